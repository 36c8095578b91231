// epoll_lt — epoll, level-triggered
// What the model is, its syscalls, needs and traps: docs/models.md, section epoll_lt.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/conns_by_fd.h"
#include "servers/common/server_main.h"
#include "servers/common/socket_io.h"

namespace iomodels {
namespace {

constexpr int kMaxEvents = 256;

// The loop is a SocketIo (recv, send, lingering close; its queue keyed by fd)
// with its epoll instance: one ctx and one stats reference for both.
struct Loop : SocketIo {
  Fd ep;
  ConnsByFd<Connection> conns{};
  std::vector<uint32_t> registered{};  // by fd: the events epoll_ctl last asked for
  SpareFd spare{};
  AcceptPause pause{};

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
    lingers.expire(now_ns(), [&](uint64_t fd) { return conns.find(int(fd)); },
                      [&](uint64_t fd) { close_conn(int(fd)); });
  }

  void close_conn(int fd) {
    conns.erase(fd);  // close(2) removes it from the epoll set too
    count_close();
  }

  // What to wait for: EPOLLOUT while output is pending, EPOLLIN off while
  // back-pressured or after the peer's EOF.
  static uint32_t interest(const Connection& c) {
    return (c.wants_read() ? EPOLLIN | EPOLLRDHUP : 0u) | (c.wants_write() ? EPOLLOUT : 0u);
  }

  void on_event(int fd, uint32_t events) {
    Connection* found = conns.find(fd);
    if (found == nullptr) return;
    Connection& c = *found;
    const uint32_t before = registered[size_t(fd)];
    bool ok = true;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP) && before & EPOLLIN) ok = recv_once(c);
    if (ok && (events & EPOLLOUT || c.wants_write())) ok = flush(c);  // try at once: usually it all fits
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
  Loop loop{{ctx, ctx.stats}, Fd(::epoll_create1(EPOLL_CLOEXEC))};
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
  return iomodels::listed_server_main(argc, argv, {.serve = &iomodels::serve});
}
