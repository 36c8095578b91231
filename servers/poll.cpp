// poll — poll(2)
// What the model is, its syscalls, needs and traps: docs/models.md, section poll.
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/socket_io.h"

namespace iomodels {
namespace {

constexpr size_t kStopSlot = 0, kListenSlot = 1, kFirstConn = 2;

// The loop is a SocketIo (recv, send, lingering close; its queue keyed by fd)
// with the pollfd array.
struct Loop : SocketIo {
  // Parallel arrays: pfds[i] is what poll sees, conns[i] the connection behind
  // it (null for the stop and listener slots).
  std::vector<pollfd> pfds;
  std::vector<std::unique_ptr<Connection>> conns;
  SpareFd spare;
  AcceptPause pause;

  void add(int fd, std::unique_ptr<Connection> c) {
    pfds.push_back(pollfd{fd, POLLIN, 0});
    conns.push_back(std::move(c));
  }

  void accept_all() {
    for (;;) {
      st.count(Syscall::kAccept4);
      int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, ctx.listener.get(), spare, st, ctx);
        if (f == AcceptFailure::kRetry) continue;
        // Nothing could be shed: poll is level-triggered and would report the listener at once, forever.
        if (f == AcceptFailure::kCannotShed && pause.begin(st)) pfds[kListenSlot].events = 0;
        return;  // the backlog is empty (or shed: level-triggered, it comes back)
      }
      if (!admit_accepted(fd, conns.size() - kFirstConn, st, ctx)) continue;
      add(fd, std::make_unique<Connection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap));
    }
  }

  // Swap-remove: the last entry moves into slot i (keeping its revents, so the
  // caller's scan handles it next), and the array never has holes to skip.
  void close_at(size_t i) {
    pfds[i] = pfds.back();
    conns[i] = std::move(conns.back());
    pfds.pop_back();
    conns.pop_back();  // the moved-from slot held the closed connection: its Fd closes here
    count_close();
  }

  // Rare (a refusal a second old): a scan for the slot is fine.
  size_t slot_of(int fd) const {
    for (size_t i = kFirstConn; i < pfds.size(); ++i)
      if (pfds[i].fd == fd) return i;
    return 0;
  }
  void expire_lingers() {
    lingers.expire(
        now_ns(), [&](uint64_t fd) { size_t i = slot_of(int(fd)); return i ? conns[i].get() : nullptr; },
        [&](uint64_t fd) { close_at(slot_of(int(fd))); });
  }

  // false: the connection in slot i was closed (and another moved into i).
  bool on_event(size_t i) {
    Connection& c = *conns[i];
    short re = pfds[i].revents;
    bool ok = true;
    if (re & (POLLIN | POLLHUP | POLLERR) && c.wants_read()) ok = recv_once(c);  // poll reports the rest
    if (ok && (re & (POLLOUT | POLLERR) || c.wants_write())) ok = flush(c);  // try at once: usually all fits
    if (ok && c.linger_due()) ok = lingers.start(c, uint64_t(c.fd()), st);  // FIN now, close at EOF or deadline
    if (!ok || c.finished()) { close_at(i); return false; }
    pfds[i].events = short((c.wants_read() ? POLLIN : 0) | (c.wants_write() ? POLLOUT : 0));
    return true;
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  Loop loop{{ctx, ctx.stats}};
  loop.add(ctx.stop_fd, nullptr);           // kStopSlot
  loop.add(ctx.listener.get(), nullptr);    // kListenSlot
  while (!ctx.stop_requested()) {
    loop.st.count(Syscall::kPoll);
    int timeout = loop.lingers.timeout_ms(loop.pause.wait_ms());
    int n = ::poll(loop.pfds.data(), loop.pfds.size(), timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      // EINVAL: more pollfds than RLIMIT_NOFILE now allows (lowered under a
      // running server): out of fds, as far as poll is concerned. Not worth
      // dying for: pause, as for an accept that fails, until it comes back.
      if (errno == EINVAL && loop.pfds.size() > kFirstConn) {
        pause_blocking_accept(loop.st);
        continue;
      }
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    ++loop.st.wakeups;
    if (loop.pfds[kStopSlot].revents) break;
    if (loop.pause.end_if_due()) loop.pfds[kListenSlot].events = POLLIN;
    // Connections accepted below are appended with revents 0; the scan skips them.
    bool accept_ready = loop.pfds[kListenSlot].revents != 0;
    if (accept_ready) --n;
    for (size_t i = kFirstConn; i < loop.pfds.size() && n > 0;) {
      if (loop.pfds[i].revents == 0) { ++i; continue; }
      --n;
      ++loop.st.events;
      if (loop.on_event(i)) ++i;  // else slot i now holds the last entry: look at it again
    }
    if (accept_ready) {
      ++loop.st.events;
      loop.accept_all();
    }
    if (!loop.lingers.empty()) loop.expire_lingers();
  }
  loop.st.closed += loop.conns.size() - kFirstConn;  // closed by the stop, not by the peer
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv, {.serve = &iomodels::serve});
}
