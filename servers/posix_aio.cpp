// posix_aio — glibc POSIX AIO (threads underneath)
// What the model is, its syscalls, needs and traps: docs/models.md, section posix_aio.
#include <aio.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/thread_budget.h"

namespace iomodels {
namespace {

int done_signal() { return SIGRTMIN + 2; }
constexpr size_t kMaxAioThreads = 16384;
constexpr size_t kSignalReserve = 4;  // RT queue room kept for accept and stop notices
constexpr size_t kReadBytes = 16 * 1024;  // per connection: 10k connections = 160 MiB
constexpr timespec kSweepAfter{0, 200'000'000};
constexpr uint64_t kSweepEveryNs = 200'000'000;
// Threads kept free under RLIMIT_NPROC / pids.max for everything else
// (our own threads, the shell, a stats writer): admission stops this far below.
constexpr size_t kThreadHeadroom = 32;

struct Conn {
  Connection conn;
  bool in_flight = false;
  bool writing = false;
  char in[kReadBytes];
  // On the heap: glibc's aiocb ends in a zero-size array, which may not sit inside a struct.
  std::unique_ptr<aiocb> cb{new aiocb{}};
};

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  size_t cap;
  size_t thread_cap = SIZE_MAX;  // connections the thread limits allow (one helper each)
  uint64_t last_sweep_ns = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  uint64_t next_id = 1;
  std::mutex mu;             // guards handoff, shared with the accept thread
  std::vector<int> handoff;  // accepted fds not yet taken by the loop
  bool stopping = false;

  void submit(uint64_t id, Conn& c, bool write) {
    *c.cb = aiocb{};
    c.cb->aio_fildes = c.conn.fd();
    c.cb->aio_buf = write ? const_cast<char*>(c.conn.out().peek()) : c.in;
    c.cb->aio_nbytes = write ? c.conn.out().readable_bytes() : kReadBytes;
    c.cb->aio_sigevent.sigev_notify = SIGEV_SIGNAL;
    c.cb->aio_sigevent.sigev_signo = done_signal();
    c.cb->aio_sigevent.sigev_value.sival_ptr = reinterpret_cast<void*>(id);
    st.count(write ? Syscall::kAioWrite : Syscall::kAioRead);
    if ((write ? ::aio_write(c.cb.get()) : ::aio_read(c.cb.get())) != 0) {
      int err = errno;  // EAGAIN: glibc could not queue it; this connection only
      ++st.unexpected_errors;
      ctx.log(describe_errno(write ? "aio_write" : "aio_read", err));
      return close_conn(id);
    }
    c.in_flight = true;
    c.writing = write;
  }

  // After each completion: write what is owed, else read, else close.
  void next(uint64_t id, Conn& c) {
    if (c.conn.wants_write()) return submit(id, c, true);
    if (c.conn.linger_due() && !start_lingering(c)) return close_conn(id);
    if (c.conn.finished() || !c.conn.wants_read()) return close_conn(id);
    if (c.conn.lingering() && now_ns() >= c.conn.linger_deadline_ns()) return close_conn(id);
    submit(id, c, false);
  }

  // FIN after the reply, then reads that are dropped (see connection.h); the
  // helper's blocking read gives up at SO_RCVTIMEO (EAGAIN), so the linger ends
  // by itself even if the peer neither sends nor closes.
  bool start_lingering(Conn& c) {
    timeval limit{time_t(Connection::kLingerNs / 1'000'000'000), 0};
    return start_linger(c.conn, st) &&
           ::setsockopt(c.conn.fd(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit) == 0;
  }

  void close_conn(uint64_t id) {
    conns.erase(id);  // nothing in flight here, so the aiocb may go
    st.count(Syscall::kClose);
    ++st.closed;
  }

  void on_completion(uint64_t id) {
    auto it = conns.find(id);
    if (it == conns.end()) return;  // stale: the connection is gone
    Conn& c = *it->second;
    if (!c.in_flight) return;  // already taken by a sweep
    st.count(Syscall::kAioError);
    int err = ::aio_error(c.cb.get());
    if (err == EINPROGRESS) return;  // a stale signal, for the op before this one
    ++st.events;
    c.in_flight = false;
    st.count(Syscall::kAioReturn);
    ssize_t n = ::aio_return(c.cb.get());
    if (n < 0) {
      if (stopping || err == ECANCELED) return;
      if (c.conn.lingering() && classify_errno(err) == ErrnoClass::kWouldBlock) return close_conn(id);
      if (classify_errno(err) == ErrnoClass::kPeerGone) ++st.peer_resets;
      else { ++st.unexpected_errors; ctx.log(describe_errno(c.writing ? "aio_write" : "aio_read", err)); }
      return close_conn(id);
    }
    if (c.writing) c.conn.on_sent(size_t(n), st);  // even at the stop: those bytes went out
    if (stopping) return;  // stop: collect completions, start nothing new
    if (!c.writing) {
      if (n > 0) c.conn.on_received(c.in, size_t(n), st);
      else c.conn.on_peer_eof();
    }
    next(id, c);
  }

  void take_handoff() {
    std::vector<int> fds;
    { std::lock_guard lock(mu); fds.swap(handoff); }
    for (int fd : fds) {
      ++st.accepted;
      bool no_thread = conns.size() >= thread_cap;  // its aio_read would queue behind parked helpers
      if (stopping || conns.size() >= cap || no_thread) {
        ::close(fd);
        st.count(Syscall::kClose);
        ++st.rejected;
        if (no_thread && !stopping) ++st.extra["thread_limit_refusals"];
        continue;
      }
      int one = 1;  // best effort, and no exception with the accept thread running
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      uint64_t id = next_id++;
      Conn* c = new Conn{Connection(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap)};
      conns.emplace(id, std::unique_ptr<Conn>(c));
      submit(id, *c, false);
    }
  }

  // A completion whose signal was lost (RT queue full) is still visible here.
  void sweep() {
    last_sweep_ns = now_ns();
    std::vector<uint64_t> ids;  // on_completion may erase: not while iterating
    for (auto& [id, c] : conns) ids.push_back(id);
    for (uint64_t id : ids) on_completion(id);
  }

  // Every kSweepEveryNs of elapsed time, busy or not (a busy loop never times
  // out): recover lost completions and re-read the thread limits.
  void sweep_if_due() {
    if (now_ns() - last_sweep_ns < kSweepEveryNs) return;
    take_handoff();
    sweep();
    update_thread_cap();
  }

  void update_thread_cap() {
    ThreadBudget b = thread_budget();
    if (b.threads == SIZE_MAX) { thread_cap = SIZE_MAX; return; }
    size_t more = b.threads > kThreadHeadroom ? b.threads - kThreadHeadroom : 0;
    size_t was = thread_cap;
    thread_cap = conns.size() + more;
    if (was == SIZE_MAX && thread_cap < cap)
      ctx.log("admitting at most " + std::to_string(thread_cap) + " connections now: " + b.limited_by +
              " leaves " + std::to_string(b.threads) + " threads (one aio helper per connection)");
  }

  void accept_thread(ServerStats& ast) {
    SpareFd spare;
    pid_t pid = ::getpid();
    while (!ctx.stop_requested()) {
      ast.count(Syscall::kAccept4);
      int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);  // blocking
      if (fd < 0) {
        int err = errno;
        ErrnoClass k = classify_errno(err);
        if (ctx.stop_requested()) break;  // shutdown(2) of the listener woke us
        if (k == ErrnoClass::kNoResources && spare.shed_one(ctx.listener.get())) { ++ast.rejected; continue; }
        if (k == ErrnoClass::kUnexpected) { ++ast.unexpected_errors; ctx.log(describe_errno("accept4", err)); }
        if (k != ErrnoClass::kInterrupted && k != ErrnoClass::kPeerGone)
          pause_blocking_accept(ast);  // no spin on EMFILE
        continue;
      }
      bool was_empty;  // one notice per batch spares the RT queue; if sigqueue
      { std::lock_guard lock(mu); was_empty = handoff.empty(); handoff.push_back(fd); }
      // still fails, the loop's timed wait picks the fd up.
      if (was_empty) (void)::sigqueue(pid, done_signal(), sigval{.sival_ptr = nullptr});
    }
  }

  // The stop wakes no helper. Shutting down 10,000 sockets made 10,000
  // helpers runnable at once, each taking glibc's one request mutex to report
  // a result nobody wants, and this thread got a 10,000th of the CPU (a stop
  // took 20 s). The helpers end with the process, whose exit also closes the
  // sockets (the peers see a FIN). Until then a helper may still write into
  // an in-flight connection's buffer and aiocb or use its fd: those are
  // leaked on purpose, and kept reachable so that LeakSanitizer does not
  // report them.
  void stop() {
    stopping = true;
    take_handoff();
    // Completions whose signal is still queued: their writes reached the peer,
    // so they are counted (bytes_out) before the rest is abandoned.
    sweep();
    static auto* graveyard = new std::vector<std::unique_ptr<Conn>>();
    for (auto& [id, c] : conns) {
      if (c->in_flight) { c->conn.owned_fd().release(); graveyard->push_back(std::move(c)); }
      ++st.closed;
    }
    conns.clear();  // closes the idle ones (no helper has them)
  }
};

int serve(ServerContext& ctx) {
  sigset_t set;  // blocked in every thread by server_main (ModelSpec::blocked_signals)
  sigemptyset(&set);
  sigaddset(&set, done_signal());

  rlimit sigpending{};
  ::getrlimit(RLIMIT_SIGPENDING, &sigpending);
  size_t queue_room = sigpending.rlim_cur > kSignalReserve ? sigpending.rlim_cur - kSignalReserve : 1;
  size_t cap = std::min({ctx.opt.max_connections, kMaxAioThreads, queue_room});
  if (cap < ctx.opt.max_connections)
    ctx.log("serving at most " + std::to_string(cap) + " connections (aio threads / RLIMIT_SIGPENDING)");
  aioinit init{.aio_threads = int(cap), .aio_num = int(cap), .aio_idle_time = 1};  // idle helpers exit after 1 s
  ::aio_init(&init);

  Loop loop{ctx, ctx.stats, cap};
  loop.update_thread_cap();
  loop.last_sweep_ns = now_ns();
  ctx.on_stop([listener = ctx.listener.get()] {
    ::shutdown(listener, SHUT_RDWR);  // wakes the blocked accept with EINVAL
    (void)::sigqueue(::getpid(), done_signal(), sigval{.sival_ptr = nullptr});
  });
  ServerStats accept_stats;
  ctx.attach_stats(accept_stats);  // SIGUSR1 snapshots see it live; merge_stats detaches
  std::thread acceptor([&] { loop.accept_thread(accept_stats); });

  while (!ctx.stop_requested()) {
    siginfo_t si;
    loop.st.count(Syscall::kSigtimedwait);
    int got = ::sigtimedwait(&set, &si, &kSweepAfter);
    int err = errno;
    if (got >= 0) {
      ++loop.st.wakeups;
      if (si.si_code == SI_ASYNCIO) loop.on_completion(reinterpret_cast<uint64_t>(si.si_value.sival_ptr));
      else loop.take_handoff();  // SI_QUEUE: the accept thread or the stop hook
    } else if (err != EAGAIN && err != EINTR) {
      throw std::system_error(err, std::generic_category(), "sigtimedwait");
    }
    loop.sweep_if_due();  // every 200 ms or so, busy or quiet
  }
  acceptor.join();
  loop.stop();
  ctx.merge_stats(accept_stats);
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv,
                                      {.serve = &iomodels::serve,
                                       .blocked_signals = {iomodels::done_signal()}});
}
