// blocking_threads — blocking I/O, a thread per connection
// What the model is, its syscalls, needs and traps: docs/models.md, section blocking_threads.
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_set>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"

namespace iomodels {
namespace {

// Small stacks so that 10k threads cost 640 MiB of address space, not 80 GiB.
// Nothing on a connection thread's stack is large: the read buffer is on the heap.
constexpr size_t kStackBytes = 64 * 1024;
// Read chunk per connection: a quarter of Connection::kReadChunk, because with
// 10k threads every connection holds its own.
constexpr size_t kReadBytes = 16 * 1024;
// serve() waits this long for connection threads after a stop; they wake at
// once (their sockets were shut down), so this only bounds a pathological case
// (or many thousands of threads on few cores) and keeps us inside the
// one-second exit docs/design.md promises (Servers, Stop).
constexpr auto kDrainWait = std::chrono::milliseconds(600);
constexpr auto kSendWakeAfter = std::chrono::milliseconds(100);

// The only state threads share, touched at connect and close only. Held by
// shared_ptr so a thread that outlives serve() (see kDrainWait) stays valid.
struct Shared {
  ServerContext& ctx;
  std::mutex mu;
  std::condition_variable all_done;
  std::unordered_set<int> live;  // connection fds the stop hook must shut down
  size_t threads = 0;            // connection threads still running
  std::atomic<bool> stopping{false};  // read unlocked by threads: a peer still sending must not keep them
  bool abandoned = false;        // serve() gave up waiting: ctx may be gone, touch it no more

  explicit Shared(ServerContext& c) : ctx(c) {}

  // The stop: wake every blocked thread, accept() included. SHUT_RD first
  // wakes each recv() with 0 and sends nothing, which is what nearly every
  // thread is blocked in; SHUT_RDWR (a FIN each) is kept for the few blocked
  // in send() to a slow reader, which SHUT_RD does not wake.
  void shut_all(int how) {
    std::lock_guard lock(mu);
    stopping = true;
    ::shutdown(ctx.listener.get(), SHUT_RDWR);
    for (int fd : live) ::shutdown(fd, how);
  }
  void log(const std::string& line) {
    std::lock_guard lock(mu);
    if (!abandoned) ctx.log(line);
  }
};

struct ConnThread {
  std::shared_ptr<Shared> shared;
  std::unique_ptr<Connection> conn;
  ServerStats st;
  std::unique_ptr<char[]> scratch{new char[kReadBytes]};

  // false: drop the connection.
  bool classify(int err, const char* call) {
    switch (classify_errno(err)) {
      case ErrnoClass::kInterrupted: return true;
      // Also EPIPE after the stop's own shutdown(2): not worth a line.
      case ErrnoClass::kPeerGone: ++st.peer_resets; return false;
      default:  // EAGAIN included: these sockets are blocking, so it means trouble
        ++st.unexpected_errors;
        shared->log(describe_errno(call, err));
        return false;
    }
  }

  // Blocking send of everything owed: short writes looped, EINTR retried.
  bool flush() {
    Connection& c = *conn;
    while (c.wants_write()) {
      st.count(Syscall::kSend);
      ssize_t n = ::send(c.fd(), c.out().peek(), c.out().readable_bytes(), MSG_NOSIGNAL);
      int err = errno;
      if (n >= 0) { c.on_sent(size_t(n), st); continue; }
      if (!classify(err, "send")) return false;
    }
    return true;
  }

  void run() {
    Connection& c = *conn;
    while (!c.finished() && !shared->stopping.load(std::memory_order_relaxed)) {
      if (c.lingering() && !linger_wait()) break;
      if (c.wants_read()) {
        st.count(Syscall::kRecv);
        ssize_t n = ::recv(c.fd(), scratch.get(), kReadBytes, 0);
        int err = errno;
        ++st.wakeups;  // the blocking recv is this model's wait
        ++st.events;
        if (n > 0) c.on_received(scratch.get(), size_t(n), st);
        else if (n == 0) c.on_peer_eof();
        else if (c.lingering() && classify_errno(err) == ErrnoClass::kWouldBlock) break;  // SO_RCVTIMEO: time's up
        else if (!classify(err, "recv")) break;
      }
      if (!flush()) break;
      if (c.linger_due() && !start_linger(c, st)) break;  // FIN now, close at EOF or deadline
    }
    finish();
  }

  // Lingering: the next recv may block only until the deadline (SO_RCVTIMEO,
  // whose EAGAIN is then the end). false: the deadline passed.
  bool linger_wait() {
    uint64_t now = now_ns(), end = conn->linger_deadline_ns();
    if (now >= end) return false;
    uint64_t us = std::max<uint64_t>((end - now) / 1000, 1);
    timeval tv{time_t(us / 1'000'000), suseconds_t(us % 1'000'000)};
    return ::setsockopt(conn->fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0;
  }

  // Two short critical sections rather than one long one: at a stop thousands
  // of threads get here at once, and close(2) under the lock made a convoy.
  void finish() {
    {
      // Forget the fd before closing it, so the stop never shuts down a
      // number the kernel has already handed to someone else.
      std::lock_guard lock(shared->mu);
      shared->live.erase(conn->fd());
    }
    conn.reset();
    st.count(Syscall::kClose);
    ++st.closed;
    std::lock_guard lock(shared->mu);
    if (!shared->abandoned) shared->ctx.merge_stats(st);
    if (--shared->threads == 0) shared->all_done.notify_all();
  }

  // A thread's start routine is called from C (pthread): no exception may
  // leave it. One thrown while serving (bad_alloc) costs this connection only.
  static void* entry(void* arg) noexcept {
    std::unique_ptr<ConnThread> self(static_cast<ConnThread*>(arg));
    try {
      self->run();
    } catch (const std::exception& e) {
      count_connection_failure(e, self->st, self->shared->ctx);
      self->finish();
    }
    return nullptr;
  }
};

// Hands one accepted socket to a new detached thread; false if it was refused.
bool spawn(const std::shared_ptr<Shared>& shared, int fd, const pthread_attr_t& attr) {
  ServerContext& ctx = shared->ctx;
  {
    std::lock_guard lock(shared->mu);
    if (shared->stopping || shared->live.size() >= ctx.opt.max_connections) {
      ::close(fd);
      return false;
    }
    shared->live.insert(fd);
    ++shared->threads;
  }
  auto forget = [&] {
    std::lock_guard lock(shared->mu);
    shared->live.erase(fd);
    --shared->threads;
  };
  Fd owned(fd);
  ConnThread* t = nullptr;
  try {
    set_nodelay(fd);
    t = new ConnThread{shared, std::make_unique<Connection>(std::move(owned), ctx.new_session(),
                                                            ctx.opt.out_buffer_cap), {}};
  } catch (const std::exception& e) {  // this connection only; the Fd on the way closes it
    count_connection_failure(e, ctx.stats, ctx);
    forget();
    return false;
  }
  // Visible to SIGUSR1 snapshots while it runs; merge_stats detaches it (an
  // abandoned thread never does, but snapshots skip attached stats after a stop).
  ctx.attach_stats(t->st);
  pthread_t tid;
  int err = ::pthread_create(&tid, &attr, &ConnThread::entry, t);
  if (err == 0) return true;
  // EAGAIN: out of threads or memory. Shed this one, as EMFILE would be.
  ctx.log(describe_errno("pthread_create", err));
  forget();
  ctx.detach_stats(t->st);
  delete t;  // closes fd
  return false;
}

int serve(ServerContext& ctx) {
  ServerStats& st = ctx.stats;
  auto shared = std::make_shared<Shared>(ctx);
  ctx.on_stop([shared] { shared->shut_all(SHUT_RD); });

  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  ::pthread_attr_setstacksize(&attr, kStackBytes);
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  SpareFd spare;

  while (!ctx.stop_requested()) {
    st.count(Syscall::kAccept4);
    int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
    int err = errno;
    ++st.wakeups;
    if (fd < 0) {
      if (ctx.stop_requested()) break;  // EINVAL from our own shutdown(2)
      switch (classify_errno(err)) {
        case ErrnoClass::kInterrupted:
        case ErrnoClass::kPeerGone:  // ECONNABORTED: that peer left before we got it
          continue;
        case ErrnoClass::kNoResources:
          if (spare.shed_one(ctx.listener.get())) ++st.rejected;
          else pause_blocking_accept(st);  // never spin on a backlog we cannot take
          continue;
        default:
          ++st.unexpected_errors;
          ctx.log(describe_errno("accept4", err));
          pause_blocking_accept(st);
          continue;
      }
    }
    ++st.events;
    ++st.accepted;
    if (!spawn(shared, fd, attr)) {
      ++st.rejected;
      st.count(Syscall::kClose);
    }
  }
  ::pthread_attr_destroy(&attr);

  // The hook woke every thread blocked in recv(); give them a moment, then
  // wake the ones blocked in send() too.
  auto done = [&] { return shared->threads == 0; };
  std::unique_lock lock(shared->mu);
  if (!shared->all_done.wait_for(lock, kSendWakeAfter, done)) {
    lock.unlock();
    shared->shut_all(SHUT_RDWR);
    lock.lock();
  }
  if (!shared->all_done.wait_for(lock, kDrainWait, done)) {
    ctx.log(std::to_string(shared->threads) + " connection threads did not stop; their stats are lost");
    shared->abandoned = true;
  }
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv, {.serve = &iomodels::serve});
}
