// nonblocking_spin — O_NONBLOCK, one thread polls every socket until EAGAIN
// What the model is, its syscalls, needs and traps: docs/models.md, section nonblocking_spin.
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"

namespace iomodels {
namespace {

// Bytes read from one connection per pass: a peer that always has data would
// otherwise hold the pass (and every other connection) until it paused.
constexpr size_t kReadBudget = 4 * Connection::kReadChunk;

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  std::vector<std::unique_ptr<Connection>> conns;
  SpareFd spare;
  AcceptPause pause;
  std::unique_ptr<char[]> scratch{new char[Connection::kReadChunk]};

  // Returns true when at least one connection was accepted (or shed).
  bool accept_all() {
    bool progress = false;
    for (;;) {
      st.count(Syscall::kAccept4);
      int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        // EMFILE: without the spare fd the pending connection would sit in the
        // backlog forever, since we never learn it was refused.
        AcceptFailure f = on_accept_failure(errno, ctx.listener.get(), spare, st, ctx);
        if (f == AcceptFailure::kRetry) continue;
        if (f == AcceptFailure::kCannotShed) pause.begin(st);  // the passes skip accept for a while
        return progress;  // the backlog is empty
      }
      progress = true;
      ++st.events;
      if (!admit_accepted(fd, conns.size(), st, ctx)) continue;
      conns.push_back(std::make_unique<Connection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap));
    }
  }

  // false: drop the connection. Saved errno sorted: expected vs unexpected.
  bool classify(int err, const char* call) { return keep_after_io_error(err, call, st, ctx); }

  // Send until EAGAIN or nothing is owed. false: drop the connection.
  bool flush(Connection& c, bool& progress) {
    while (c.wants_write()) {
      st.count(Syscall::kSend);
      ssize_t n = ::send(c.fd(), c.out().peek(), c.out().readable_bytes(), MSG_NOSIGNAL);
      if (n >= 0) { c.on_sent(size_t(n), st); progress = true; continue; }
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) return true;  // try again next pass
      if (classify_errno(err) == ErrnoClass::kInterrupted) continue;
      return classify(err, "send");
    }
    return true;
  }

  // Read and write until both sides say EAGAIN, back-pressure stops the
  // reads (wants_read() turns false while the out-buffer is over its cap), a
  // short read shows the socket empty for now (the next pass asks again), or
  // the pass's read budget for this connection is spent.
  bool service(Connection& c, bool& progress) {
    for (size_t budget = kReadBudget, last = Connection::kReadChunk;;) {
      if (!flush(c, progress)) return false;
      if (c.linger_due() && !start_linger(c, st)) return false;  // FIN now, close at EOF or deadline
      if (!c.wants_read() || budget == 0 || last < Connection::kReadChunk) return true;
      st.count(Syscall::kRecv);
      ssize_t n = ::recv(c.fd(), scratch.get(), Connection::kReadChunk, 0);
      if (n > 0) {
        c.on_received(scratch.get(), size_t(n), st);
        progress = true;
        budget -= std::min(budget, last = size_t(n));
        continue;
      }
      if (n == 0) { c.on_peer_eof(); progress = true; continue; }  // flush what is owed, then done
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) return true;  // nothing there: next socket
      if (classify_errno(err) == ErrnoClass::kInterrupted) continue;
      return classify(err, "recv");
    }
  }

  // One pass over every socket. Returns whether anything happened.
  bool pass() {
    bool progress = !pause.active() || pause.end_if_due() ? accept_all() : false;
    for (size_t i = 0; i < conns.size();) {
      Connection& c = *conns[i];
      bool moved = false;
      bool ok = service(c, moved);
      if (moved) ++st.events;
      progress |= moved;
      bool expired = c.lingering() && now_ns() >= c.linger_deadline_ns();
      if (ok && !c.finished() && !expired) { ++i; continue; }
      // Swap-remove: order of service does not matter, O(1) beats shifting.
      conns[i] = std::move(conns.back());
      conns.pop_back();
      st.count(Syscall::kClose);
      ++st.closed;
    }
    return progress;
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  const int64_t idle_sleep_us = ctx.opt.extra_int("idle-sleep-us");
  Loop loop{ctx, ctx.stats, {}, {}};
  // No stop_fd to watch (that would need a readiness call): the flag is read
  // once per pass, so the stop is seen within one pass (+ one idle sleep).
  while (!ctx.stop_requested()) {
    ++loop.st.wakeups;
    bool progress = loop.pass();
    if (!progress && idle_sleep_us > 0) {
      timespec ts{idle_sleep_us / 1'000'000, (idle_sleep_us % 1'000'000) * 1000};
      loop.st.count(Syscall::kNanosleep);
      ::nanosleep(&ts, nullptr);  // EINTR just ends the nap early: harmless
    }
  }
  loop.st.closed += loop.conns.size();  // closed by the stop, not by the peer
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(
      argc, argv,
      {.serve = &iomodels::serve,
       // Capped at 100 ms so that a stop is still noticed well within a second.
       .extra_options = {{"idle-sleep-us", 0, "sleep this many µs when a whole pass found nothing (0: spin)",
                          0, 100'000}}});
}
