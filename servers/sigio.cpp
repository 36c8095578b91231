// sigio — O_ASYNC + real-time signals read in batches from a signalfd (or sigwaitinfo)
// What the model is, its syscalls, needs and traps: docs/models.md, section sigio.
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/socket_io.h"

namespace iomodels {
namespace {

int io_signal() { return SIGRTMIN + 1; }  // SIGRTMIN itself may be glibc's
constexpr size_t kBatch = 64;               // --wait signalfd: siginfo records per read

// Bytes read from one connection per turn: a peer that never stops sending
// must not starve the rest; a connection that used its budget goes on the
// backlog, once: while it waits there its signals are ignored (it already has
// a turn coming), so a busy fd cannot take a turn per signal it raises. A
// turn of the backlog runs only after every signal pending then was served.
constexpr size_t kReadBudget = 4 * Connection::kReadChunk;

struct SigConnection : Connection {
  using Connection::Connection;
  bool queued = false;  // on the backlog: its turn comes from there
};

// How a turn reads: kSignal trusts the short-read rule, kDrain reads to EAGAIN
// (its edge may have been lost: before O_ASYNC, in an overflow, while queued).
enum class Turn { kSignal, kDrain };

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  std::unordered_map<int, std::unique_ptr<SigConnection>> conns;
  std::vector<int> backlog;  // fds whose turn ended with data left
  SpareFd spare;
  // Out of fds with nothing to shed, the backlog would wait for the next
  // connection's signal (there may be none): the loop's timer re-checks it.
  AcceptPause pause;
  SocketIo io{ctx, st};  // recv, send, lingering close (its queue keyed by fd)

  // Order matters: owner and signal first, O_ASYNC last, so no signal is ever
  // raised towards the wrong target or as plain SIGIO.
  // False (errno set): the fd raises no signal and cannot be served.
  bool arm(int fd) {
    f_owner_ex owner{F_OWNER_TID, ::gettid()};
    st.count(Syscall::kFcntl, 3);
    return ::fcntl(fd, F_SETOWN_EX, &owner) == 0 && ::fcntl(fd, F_SETSIG, io_signal()) == 0 &&
           ::fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK | O_ASYNC) == 0;
  }

  void accept_all() {
    if (pause.active()) return;  // the timer in serve() looks again when it is due
    for (;;) {
      st.count(Syscall::kAccept4);
      int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, ctx.listener.get(), spare, st, ctx);
        if (f == AcceptFailure::kRetry || f == AcceptFailure::kShed) continue;
        if (f == AcceptFailure::kCannotShed) pause.begin(st);
        return;  // the backlog is empty (or out of fds with nothing to shed)
      }
      if (!admit_accepted(fd, conns.size(), st, ctx)) continue;
      if (!arm(fd)) {  // this connection only: it is closed, the server goes on
        count_connection_failure("fcntl(O_ASYNC)", errno, st, ctx);
        ::close(fd);
        io.count_close();
        continue;
      }
      conns.emplace(fd, std::make_unique<SigConnection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap));
      service(fd, Turn::kDrain);  // bytes that came before O_ASYNC was set raised no signal
    }
  }

  // Edge-triggered service: alternate flush and recv until the socket is
  // empty, back-pressure stops reading, or the turn's budget is spent.
  void service(int fd, Turn turn, bool from_backlog = false) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;  // closed already: a stale signal
    SigConnection& c = *it->second;
    if (c.queued && !from_backlog) return;  // its one turn is on the backlog
    c.queued = false;
    bool empty = false;  // a short read proved the receive queue empty
    for (size_t budget = kReadBudget;;) {
      // Send until out() is empty or the socket is full (then a POLL_OUT
      // signal comes when space frees, because the failed send set NOSPACE).
      if (!io.flush(c)) return close_conn(fd);
      if (c.linger_due() && !io.lingers.start(c, uint64_t(fd), st)) return close_conn(fd);  // FIN, then drain
      if (c.finished()) return close_conn(fd);
      if (!c.wants_read() || empty) return;  // back-pressured or EOF: wait for POLL_OUT
      if (budget == 0) return c.queued = true, backlog.push_back(fd);
      ssize_t n = io.recv_into(c, fd);
      if (n > 0) {
        budget -= std::min(budget, size_t(n));
        empty = size_t(n) < Connection::kReadChunk && turn == Turn::kSignal;  // the next arrival signals
        continue;
      }
      if (n == 0) continue;  // the peer's FIN: flush what is owed, then finished
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) return;  // drained: the edge is consumed
      if (!io.keep(err, "recv")) return close_conn(fd);
    }
  }

  void close_conn(int fd) {
    conns.erase(fd);  // closing also detaches the fd from fasync: no new signals
    io.count_close();
  }

  void expire_lingers() {
    io.lingers.expire(
        now_ns(),
        [&](uint64_t fd) -> Connection* {
          auto it = conns.find(int(fd));
          return it == conns.end() ? nullptr : it->second.get();
        },
        [&](uint64_t fd) { close_conn(int(fd)); });
  }

  void on_fd(int fd) {
    if (fd == ctx.listener.get()) accept_all();
    else service(fd, Turn::kSignal);
  }

  // The queue overflowed: which events were lost is unknown, so throw away
  // what is queued (it may be stale now) and look at everything once.
  // sfd: the signalfd (--wait signalfd) or -1; either way the same queue.
  void on_overflow(const sigset_t& set, int sfd) {
    ++st.extra["rt_overflows"];
    timespec zero{0, 0};
    siginfo_t si;
    signalfd_siginfo batch[kBatch];
    for (;;) {
      ssize_t n;
      if (sfd >= 0) {
        st.count(Syscall::kRead);
        n = ::read(sfd, batch, sizeof batch);
      } else {
        st.count(Syscall::kSigtimedwait);
        n = ::sigtimedwait(&set, &si, &zero) < 0 ? -1 : ssize_t(sizeof batch[0]);
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        break;  // EAGAIN: the queue is empty
      }
      st.extra["rt_discarded"] += uint64_t(n) / sizeof batch[0];
    }
    std::vector<int> fds;
    fds.reserve(conns.size());
    for (auto& [fd, c] : conns) fds.push_back(fd);
    for (int fd : fds) service(fd, Turn::kDrain, true);
    accept_all();
  }

  void run_backlog() {
    std::vector<int> turn;
    turn.swap(backlog);
    for (int fd : turn) service(fd, Turn::kDrain, true);
  }
};

int serve(ServerContext& ctx) {
  sigset_t set;  // already blocked in every thread by server_main (ModelSpec::blocked_signals)
  sigemptyset(&set);
  sigaddset(&set, io_signal());
  sigaddset(&set, SIGIO);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);

  pthread_t self = ::pthread_self();
  int sig = io_signal();
  ctx.on_stop([self, sig] {
    // With the RT queue full sigqueue fails (EAGAIN); plain SIGIO always lands.
    if (::pthread_sigqueue(self, sig, sigval{.sival_int = -1}) != 0) ::pthread_kill(self, SIGIO);
  });

  Loop loop{ctx, ctx.stats};
  if (!loop.arm(ctx.listener.get())) throw std::system_error(errno, std::generic_category(), "fcntl(O_ASYNC) listener");
  const bool batched = ctx.opt.extra_int("wait") == 1;
  Fd sfd;  // --wait signalfd: the same RT signals, many siginfo records per read(2)
  if (batched && !(sfd = Fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC))))
    throw std::system_error(errno, std::generic_category(), "signalfd");
  // One signal taken: false once a stop was asked for.
  auto take = [&](int signo, int code, int fd) {
    ++loop.st.events;
    if (ctx.stop_requested()) return false;
    if (signo == SIGIO) loop.on_overflow(set, sfd.get());
    else if (code != SI_QUEUE) loop.on_fd(fd);  // SI_QUEUE: the stop hook's
    return true;
  };
  loop.accept_all();  // connections queued before O_ASYNC raised no signal
  while (!ctx.stop_requested()) {
    // With a backlog waiting, every signal pending now is served first (a
    // zero-timeout take until EAGAIN), then each backlogged fd gets one turn.
    // Lingering connections and an accept pause bound the nap.
    const bool nap = loop.backlog.empty();
    const int ms = loop.io.lingers.timeout_ms(loop.pause.wait_ms());
    if (batched) {
      // Read first: under load records are waiting and one read takes them
      // all (kBatch at most); only an empty queue costs a poll to nap in.
      signalfd_siginfo batch[kBatch];
      for (bool napped = !nap;;) {
        loop.st.count(Syscall::kRead);
        ssize_t n = ::read(sfd.get(), batch, sizeof batch);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) throw std::system_error(errno, std::generic_category(), "read(signalfd)");
        if (n < 0) {
          if (napped) break;
          napped = true;
          pollfd p{sfd.get(), POLLIN, 0};
          loop.st.count(Syscall::kPoll);
          if (::poll(&p, 1, ms) <= 0) break;  // timed out (or EINTR): the turn's chores
          continue;
        }
        ++loop.st.wakeups;
        size_t got = size_t(n) / sizeof batch[0];
        bool go = true;
        for (size_t i = 0; i < got && go; ++i) go = take(int(batch[i].ssi_signo), batch[i].ssi_code, batch[i].ssi_fd);
        if (!go || got < kBatch) break;  // a short read: the queue is empty now
      }
    } else {
      for (;;) {
        siginfo_t si;
        int got;
        if (nap && ms < 0) {
          loop.st.count(Syscall::kSigwaitinfo);
          got = ::sigwaitinfo(&set, &si);
        } else {
          timespec wait{nap ? ms / 1000 : 0, nap ? (ms % 1000) * 1'000'000L : 0};
          loop.st.count(Syscall::kSigtimedwait);
          got = ::sigtimedwait(&set, &si, &wait);
        }
        int err = errno;
        if (got < 0) {
          if (err == EINTR) continue;
          if (err == EAGAIN) break;
          throw std::system_error(err, std::generic_category(), "sigwaitinfo");
        }
        ++loop.st.wakeups;
        if (!take(got, si.si_code, si.si_fd) || nap) break;
      }
    }
    if (loop.pause.end_if_due()) loop.accept_all();
    loop.run_backlog();
    if (!loop.io.lingers.empty()) loop.expire_lingers();
  }
  loop.st.closed += loop.conns.size();  // closed by the stop, not by the peer
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv,
                                      {.serve = &iomodels::serve,
                                       .extra_options = {{"wait", 1,
                                                          "sigwaitinfo: one signal per call | "
                                                          "signalfd: many siginfo records per read(2)",
                                                          0, 1, {"sigwaitinfo", "signalfd"}}},
                                       .blocked_signals = {iomodels::io_signal(), SIGIO}});
}
