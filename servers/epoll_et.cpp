// epoll_et — epoll, edge-triggered
// What the model is, its syscalls, needs and traps: docs/models.md, section epoll_et.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <memory>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/conns_by_fd.h"
#include "servers/common/server_main.h"
#include "servers/common/socket_io.h"

namespace iomodels {
namespace {

constexpr int kMaxEvents = 256;
// Bytes read from one connection per turn: a 1 MiB-frame stream then yields
// to the others after 256 KiB instead of draining the socket forever.
constexpr size_t kReadBudget = 4 * Connection::kReadChunk;

// Edges are not repeated, so what they said must be remembered until drained.
struct EdgeConnection : Connection {
  using Connection::Connection;
  bool readable = false;  // an EPOLLIN edge not yet drained (to EAGAIN, or by a short read)
  bool hup = false;       // the peer's FIN (or an error) was reported: read to the end
  bool writable = true;   // no send has hit EAGAIN since the last EPOLLOUT edge
  bool queued = false;    // on the ready list
};

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  Fd ep;
  ConnsByFd<EdgeConnection> conns{};
  SpareFd spare{};
  AcceptPause pause{};
  SocketIo io{ctx, st};       // recv, send, lingering close (its queue keyed by fd)
  std::deque<int> ready{};    // connections whose read budget ran out while still readable
  uint64_t budget_yields = 0;

  // false: a connection's epoll_ctl failed (ENOSPC past max_user_watches,
  // ENOMEM): counted, and the caller closes that connection only. For the
  // listener or stop_fd it is a setup failure.
  bool watch(int op, int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    st.count(Syscall::kEpollCtl);
    if (::epoll_ctl(ep.get(), op, fd, &ev) == 0) return true;
    if (fd == ctx.listener.get() || fd == ctx.stop_fd) throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    count_connection_failure("epoll_ctl", errno, st, ctx);
    return false;
  }

  void accept_all() {
    for (;;) {
      st.count(Syscall::kAccept4);
      int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, ctx.listener.get(), spare, st, ctx);
        if (f == AcceptFailure::kRetry) continue;
        // Nothing could be shed: the listener is level-triggered and would wake us at once, forever.
        if (f == AcceptFailure::kCannotShed && pause.begin(st)) watch(EPOLL_CTL_MOD, ctx.listener.get(), 0);
        return;  // the backlog is empty (or shed: level-triggered, it comes back)
      }
      if (!admit_accepted(fd, conns.size(), st, ctx)) continue;
      conns.add(fd, std::make_unique<EdgeConnection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap));
      // The one registration: both directions, edge-triggered, for life.
      if (!watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)) close_conn(fd);
    }
  }

  void expire_lingers() {
    io.lingers.expire(now_ns(), [&](uint64_t fd) { return conns.find(int(fd)); },
                      [&](uint64_t fd) { close_conn(int(fd)); });
  }

  void close_conn(int fd) {
    conns.erase(fd);  // close(2) removes it from the epoll set too; a stale ready entry is skipped
    io.count_close();
  }

  // One recv of drain()'s loop; it charges the turn's read budget and notes EAGAIN.
  bool on_readable(EdgeConnection& c, size_t& budget) {
    ssize_t n = io.recv_into(c);
    if (n > 0) {
      budget -= std::min(budget, size_t(n));
      // Short-read rule (epoll(7)): on a stream socket a read that returns
      // less than asked for emptied the receive queue, so no EAGAIN call is
      // needed to prove it; anything arriving later raises a new edge. Not
      // after a FIN was reported: its edge is spent, so read on to the 0.
      if (size_t(n) < Connection::kReadChunk && !c.hup) c.readable = false;
      return true;
    }
    if (n == 0) { c.readable = false; return true; }
    int err = errno;
    if (classify_errno(err) == ErrnoClass::kWouldBlock) c.readable = false;  // drained: wait for the next edge
    return io.keep(err, "recv");
  }

  // Until out() is empty or the socket is full; full, the EPOLLOUT edge will come.
  bool on_writable(EdgeConnection& c) {
    if (!io.flush(c)) return false;
    if (c.wants_write()) c.writable = false;
    return true;
  }

  // Alternate flushing and reading until both sides would block, back-pressure
  // stops the reads (EPOLLOUT's edge resumes them), or the budget is spent.
  void drain(int fd, EdgeConnection& c) {
    size_t budget = kReadBudget;
    bool ok = true;
    for (;;) {
      if (c.writable && !(ok = on_writable(c))) break;
      if (c.linger_due() && !(ok = io.lingers.start(c, uint64_t(fd), st))) break;  // FIN, then drain
      if (!c.readable || !c.wants_read()) break;
      if (budget == 0) break;
      if (!(ok = on_readable(c, budget))) break;
    }
    if (!ok || c.finished()) return close_conn(fd);
    if (c.readable && c.wants_read() && !c.queued) {  // budget spent, data left: yield, come back
      c.queued = true;
      ready.push_back(fd);
      ++budget_yields;
    }
  }

  void on_event(int fd, uint32_t events) {
    EdgeConnection* found = conns.find(fd);
    if (found == nullptr) return;
    EdgeConnection& c = *found;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) c.readable = true;
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) c.hup = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c.writable = true;
    if (!c.queued) drain(fd, c);  // a queued one gets its turn from the ready list this wakeup
  }

  // One turn for each connection queued before this wakeup; those that spend
  // their budget again go to the back, behind the next wakeup's events.
  void run_ready() {
    for (size_t k = ready.size(); k > 0; --k) {
      int fd = ready.front();
      ready.pop_front();
      EdgeConnection* c = conns.find(fd);
      if (c == nullptr || !c->queued) continue;
      c->queued = false;
      drain(fd, *c);
    }
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  Loop loop{ctx, ctx.stats, Fd(::epoll_create1(EPOLL_CLOEXEC))};
  if (!loop.ep) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  // The listener and stop_fd stay level-triggered: accept_all drains anyway,
  // and the stop must be seen however many times we look.
  loop.watch(EPOLL_CTL_ADD, ctx.listener.get(), EPOLLIN);
  loop.watch(EPOLL_CTL_ADD, ctx.stop_fd, EPOLLIN);
  epoll_event events[kMaxEvents];
  while (!ctx.stop_requested()) {
    loop.st.count(Syscall::kEpollWait);
    // Work on the ready list: just collect new events, do not sleep.
    int timeout = !loop.ready.empty() ? 0 : loop.io.lingers.timeout_ms(loop.pause.wait_ms());
    int n = ::epoll_wait(loop.ep.get(), events, kMaxEvents, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    ++loop.st.wakeups;
    if (loop.pause.end_if_due()) loop.watch(EPOLL_CTL_MOD, ctx.listener.get(), EPOLLIN);
    for (int i = 0; i < n; ++i) {
      ++loop.st.events;
      int fd = events[i].data.fd;
      if (fd == ctx.listener.get()) loop.accept_all();
      else if (fd != ctx.stop_fd) loop.on_event(fd, events[i].events);
    }
    loop.run_ready();
    if (!loop.io.lingers.empty()) loop.expire_lingers();
  }
  loop.st.closed += loop.conns.size();  // closed by the stop, not by the peer
  if (loop.budget_yields) loop.st.extra["budget_yields"] = loop.budget_yields;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv, {.serve = &iomodels::serve});
}
