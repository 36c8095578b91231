// epoll_et — I/O multiplexing with epoll(7), edge-triggered.
//
// Model: one thread, one epoll instance. Every connection is registered once
// for EPOLLIN|EPOLLOUT|EPOLLET and never touched again: no epoll_ctl per
// message or per back-pressure episode. An edge is reported once, so each side
// is drained and the connection remembers "still readable" and "still
// writable" itself. Reads stop at the first short read (it proves the queue
// empty: the short-read rule, ~1 recv per message instead of 2); only a read
// that fills the buffer is followed by another, until EAGAIN. For fairness
// the reads of one connection are capped per wakeup; a connection left
// readable goes on a ready list that is served after the next (then
// non-blocking) epoll_wait, behind everyone else's events.
// Syscalls: epoll_create1, epoll_ctl (once per fd), epoll_wait, accept4, recv, send, close.
// Needs: Linux ≥ 2.6. Bad at: an edge missed is a connection hung forever, so
// every path must drain or queue; one core only (see epoll_reuseport).
// Try it: ./build/epoll_et --port 7000 &  then  nc 127.0.0.1 7000
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
  ConnsByFd<EdgeConnection> conns;
  SpareFd spare;
  AcceptPause pause;
  std::unique_ptr<char[]> scratch{new char[Connection::kReadChunk]};
  std::deque<int> ready;      // connections whose read budget ran out while still readable
  LingerQueue lingers;        // refused connections draining before close, by fd
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
    lingers.expire(now_ns(), [&](uint64_t fd) { return find(int(fd)); }, [&](uint64_t fd) { close_conn(int(fd)); });
  }
  Connection* find(int fd) {
    return conns.find(fd);
  }

  void close_conn(int fd) {
    conns.erase(fd);  // close(2) removes it from the epoll set too; a stale ready entry is skipped
    st.count(Syscall::kClose);
    ++st.closed;
  }

  // One recv of drain()'s loop; it charges the turn's read budget and notes EAGAIN.
  bool on_readable(EdgeConnection& c, size_t& budget) {
    st.count(Syscall::kRecv);
    ssize_t n = ::recv(c.fd(), scratch.get(), Connection::kReadChunk, 0);
    if (n > 0) {
      c.on_received(scratch.get(), size_t(n), st);
      budget -= std::min(budget, size_t(n));
      // Short-read rule (epoll(7)): on a stream socket a read that returns
      // less than asked for emptied the receive queue, so no EAGAIN call is
      // needed to prove it; anything arriving later raises a new edge. Not
      // after a FIN was reported: its edge is spent, so read on to the 0.
      if (size_t(n) < Connection::kReadChunk && !c.hup) c.readable = false;
      return true;
    }
    if (n == 0) { c.on_peer_eof(); c.readable = false; return true; }
    int err = errno;
    if (classify_errno(err) == ErrnoClass::kWouldBlock) c.readable = false;  // drained: wait for the next edge
    return classify(err, "recv");
  }

  bool on_writable(EdgeConnection& c) {
    while (c.wants_write()) {
      st.count(Syscall::kSend);
      ssize_t n = ::send(c.fd(), c.out().peek(), c.out().readable_bytes(), MSG_NOSIGNAL);
      if (n >= 0) { c.on_sent(size_t(n), st); continue; }
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) { c.writable = false; return true; }  // the EPOLLOUT edge will come
      if (!classify(err, "send")) return false;
    }
    return true;
  }

  // false: drop the connection. Saved errno sorted: expected vs unexpected.
  bool classify(int err, const char* call) { return keep_after_io_error(err, call, st, ctx); }

  // Alternate flushing and reading until both sides would block, back-pressure
  // stops the reads (EPOLLOUT's edge resumes them), or the budget is spent.
  void drain(int fd, EdgeConnection& c) {
    size_t budget = kReadBudget;
    bool ok = true;
    for (;;) {
      if (c.writable && !(ok = on_writable(c))) break;
      if (c.linger_due() && !(ok = lingers.start(c, uint64_t(fd), st))) break;  // FIN, then drain
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
  Loop loop{ctx, ctx.stats, Fd(::epoll_create1(EPOLL_CLOEXEC)), {}, {}};
  if (!loop.ep) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  // The listener and stop_fd stay level-triggered: accept_all drains anyway,
  // and the stop must be seen however many times we look.
  loop.watch(EPOLL_CTL_ADD, ctx.listener.get(), EPOLLIN);
  loop.watch(EPOLL_CTL_ADD, ctx.stop_fd, EPOLLIN);
  epoll_event events[kMaxEvents];
  while (!ctx.stop_requested()) {
    loop.st.count(Syscall::kEpollWait);
    // Work on the ready list: just collect new events, do not sleep.
    int timeout = !loop.ready.empty() ? 0 : loop.lingers.timeout_ms(loop.pause.wait_ms());
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
    if (!loop.lingers.empty()) loop.expire_lingers();
  }
  loop.st.closed += loop.conns.size();  // closed by the stop, not by the peer
  if (loop.budget_yields) loop.st.extra["budget_yields"] = loop.budget_yields;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::server_main(argc, argv,
                               {.name = "epoll_et",
                                .summary = "echo/framed/http server on edge-triggered epoll, one thread",
                                .serve = &iomodels::serve});
}
