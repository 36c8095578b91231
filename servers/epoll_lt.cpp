// epoll_lt — I/O multiplexing with epoll(7), level-triggered.
//
// Model: one thread, one epoll instance. The listener and every connection are
// registered once for EPOLLIN; EPOLLOUT is added only while a connection has
// unsent output and removed as soon as it drains, because a level-triggered
// EPOLLOUT on an idle socket would wake us on every epoll_wait.
// Syscalls: epoll_create1, epoll_ctl, epoll_wait, accept4, recv, send, close.
// Needs: Linux ≥ 2.6. Bad at: one epoll_ctl pair per back-pressured write; one
// core only (see epoll_reuseport for the multi-reactor shape).
// Try it: ./build/epoll_lt --port 7000 &  then  nc 127.0.0.1 7000
#include <sys/epoll.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

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

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  Fd ep;
  ConnsByFd<Connection> conns;
  std::vector<uint32_t> registered;  // by fd: the events epoll_ctl last asked for
  SpareFd spare;
  AcceptPause pause;
  std::unique_ptr<char[]> scratch{new char[Connection::kReadChunk]};
  LingerQueue lingers;  // refused connections draining before close, by fd

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
        // Nothing could be shed: level-triggered, the listener would wake us at once, forever.
        if (f == AcceptFailure::kCannotShed && pause.begin(st)) watch(EPOLL_CTL_MOD, ctx.listener.get(), 0);
        return;  // the backlog is empty (or shed: level-triggered, it comes back)
      }
      if (!admit_accepted(fd, conns.size(), st, ctx)) continue;
      conns.add(fd, std::make_unique<Connection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap));
      if (size_t(fd) >= registered.size()) registered.resize(size_t(fd) + 1);
      registered[size_t(fd)] = EPOLLIN | EPOLLRDHUP;
      if (!watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP)) close_conn(fd);
    }
  }

  void expire_lingers() {
    lingers.expire(now_ns(), [&](uint64_t fd) { return find(int(fd)); }, [&](uint64_t fd) { close_conn(int(fd)); });
  }
  Connection* find(int fd) { return conns.find(fd); }

  void close_conn(int fd) {
    conns.erase(fd);  // close(2) removes it from the epoll set too
    st.count(Syscall::kClose);
    ++st.closed;
  }

  // One recv per wakeup: level-triggered epoll will tell us again if more is
  // there, which keeps one busy connection from starving the rest.
  bool on_readable(Connection& c) {
    st.count(Syscall::kRecv);
    ssize_t n = ::recv(c.fd(), scratch.get(), Connection::kReadChunk, 0);
    if (n > 0) { c.on_received(scratch.get(), size_t(n), st); return true; }
    if (n == 0) { c.on_peer_eof(); return true; }
    return classify(errno, "recv");
  }

  bool on_writable(Connection& c) {
    while (c.wants_write()) {
      st.count(Syscall::kSend);
      ssize_t n = ::send(c.fd(), c.out().peek(), c.out().readable_bytes(), MSG_NOSIGNAL);
      if (n >= 0) { c.on_sent(size_t(n), st); continue; }
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) return true;  // short write: wait for EPOLLOUT
      if (!classify(err, "send")) return false;
    }
    return true;
  }

  // false: drop the connection. Saved errno sorted: expected vs unexpected.
  bool classify(int err, const char* call) { return keep_after_io_error(err, call, st, ctx); }

  // What to wait for: EPOLLOUT while output is pending, EPOLLIN off while
  // back-pressured or after the peer's EOF.
  static uint32_t interest(const Connection& c) {
    return (c.wants_read() ? EPOLLIN | EPOLLRDHUP : 0u) | (c.wants_write() ? EPOLLOUT : 0u);
  }

  void on_event(int fd, uint32_t events) {
    Connection* found = find(fd);
    if (found == nullptr) return;
    Connection& c = *found;
    const uint32_t before = registered[size_t(fd)];
    bool ok = true;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP) && before & EPOLLIN) ok = on_readable(c);
    if (ok && (events & EPOLLOUT || c.wants_write())) ok = on_writable(c);  // try at once: usually all fits
    if (ok && c.linger_due()) ok = lingers.start(c, uint64_t(fd), st);  // FIN now, close at EOF or deadline
    if (!ok || c.finished()) return close_conn(fd);
    // Re-register only when the interest changed.
    const uint32_t after = interest(c);
    if (after == before) return;
    registered[size_t(fd)] = after;
    if (!watch(EPOLL_CTL_MOD, fd, after)) close_conn(fd);
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  Loop loop{ctx, ctx.stats, Fd(::epoll_create1(EPOLL_CLOEXEC)), {}, {}};
  if (!loop.ep) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  loop.watch(EPOLL_CTL_ADD, ctx.listener.get(), EPOLLIN);
  loop.watch(EPOLL_CTL_ADD, ctx.stop_fd, EPOLLIN);
  epoll_event events[kMaxEvents];
  while (!ctx.stop_requested()) {
    loop.st.count(Syscall::kEpollWait);
    int timeout = loop.lingers.timeout_ms(loop.pause.wait_ms());
    int n = ::epoll_wait(loop.ep.get(), events, kMaxEvents, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "epoll_wait");
    }
    ++loop.st.wakeups;
    loop.st.events += uint64_t(n);  // once per wakeup, not per event: every one is handled below
    if (loop.pause.end_if_due()) loop.watch(EPOLL_CTL_MOD, ctx.listener.get(), EPOLLIN);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == ctx.listener.get()) loop.accept_all();
      else if (fd != ctx.stop_fd) loop.on_event(fd, events[i].events);
    }
    if (!loop.lingers.empty()) loop.expire_lingers();
  }
  loop.st.closed += loop.conns.size();  // closed by the stop, not by the peer
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::server_main(argc, argv,
                               {.name = "epoll_lt",
                                .summary = "echo/framed/http server on level-triggered epoll, one thread",
                                .serve = &iomodels::serve});
}
