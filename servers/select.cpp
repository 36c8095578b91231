// select — select(2)
// What the model is, its syscalls, needs and traps: docs/models.md, section select.
#include <sys/select.h>
#include <sys/socket.h>

#include <array>
#include <memory>

#include "core/clock.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/socket_io.h"

namespace iomodels {
namespace {

// The loop is a SocketIo (recv, send, lingering close; its queue keyed by fd)
// with the fd_sets.
struct Loop : SocketIo {
  // Indexed by fd: select speaks in fd numbers, and they are all < FD_SETSIZE.
  std::array<std::unique_ptr<Connection>, FD_SETSIZE> conns{};
  size_t live = 0;
  fd_set want_read{};
  fd_set want_write{};
  int max_fd = -1;
  bool logged_fd_setsize = false;
  SpareFd spare;
  AcceptPause pause;

  void watch(int fd, bool read, bool write) {
    if (read) FD_SET(fd, &want_read); else FD_CLR(fd, &want_read);
    if (write) FD_SET(fd, &want_write); else FD_CLR(fd, &want_write);
    if ((read || write) && fd > max_fd) max_fd = fd;
  }

  void accept_all() {
    for (;;) {
      st.count(Syscall::kAccept4);
      int fd = ::accept4(ctx.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, ctx.listener.get(), spare, st, ctx);
        if (f == AcceptFailure::kRetry) continue;
        // Nothing could be shed: select is level-triggered and would report the listener at once, forever.
        if (f == AcceptFailure::kCannotShed && pause.begin(st)) watch(ctx.listener.get(), false, false);
        return;  // the backlog is empty (or shed: level-triggered, it comes back)
      }
      // An fd_set is a FD_SETSIZE-bit array: FD_SET(fd ≥ 1024) would write out
      // of bounds. The connection cannot be served by this model at all.
      if (fd >= FD_SETSIZE) {
        ++st.accepted;
        st.count(Syscall::kClose);
        ::close(fd);
        ++st.rejected;
        if (!logged_fd_setsize) {
          logged_fd_setsize = true;
          ctx.log("accepted fd " + std::to_string(fd) + " >= FD_SETSIZE (" + std::to_string(FD_SETSIZE) +
                  "): refusing such connections (counted as rejected; logged once)");
        }
        continue;
      }
      if (!admit_accepted(fd, live, st, ctx)) continue;
      conns[fd] = std::make_unique<Connection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap);
      ++live;
      watch(fd, true, false);
    }
  }

  void close_conn(int fd) {
    watch(fd, false, false);
    conns[fd].reset();
    --live;
    count_close();
    // Keep max_fd tight: select's cost is proportional to it, not to `live`.
    while (max_fd >= 0 && !FD_ISSET(max_fd, &want_read) && !FD_ISSET(max_fd, &want_write)) --max_fd;
  }

  void expire_lingers() {
    lingers.expire(now_ns(), [&](uint64_t fd) { return conns[fd].get(); }, [&](uint64_t fd) { close_conn(int(fd)); });
  }

  void on_ready(int fd, bool readable, bool writable) {
    Connection* c = conns[fd].get();
    if (c == nullptr) return;
    bool ok = true;
    if (readable && c->wants_read()) ok = recv_once(*c);  // select reports the rest
    if (ok && (writable || c->wants_write())) ok = flush(*c);  // try at once: usually all fits
    if (ok && c->linger_due()) ok = lingers.start(*c, uint64_t(fd), st);  // FIN now, close at EOF or deadline
    if (!ok || c->finished()) return close_conn(fd);
    watch(fd, c->wants_read(), c->wants_write());
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  // Both were opened before any connection, so both are far below FD_SETSIZE.
  const int lfd = ctx.listener.get(), sfd = ctx.stop_fd;
  if (lfd >= FD_SETSIZE || sfd >= FD_SETSIZE)
    throw std::system_error(EBADF, std::generic_category(), "select: listener fd >= FD_SETSIZE");
  Loop loop{{ctx, ctx.stats}};
  loop.watch(lfd, true, false);
  loop.watch(sfd, true, false);
  while (!ctx.stop_requested()) {
    // select overwrites its sets with the result, so it gets copies; the
    // masters stay the record of what we want (redis ae_select.c does the same).
    fd_set rd = loop.want_read, wr = loop.want_write;
    const int nfds = loop.max_fd + 1;
    loop.st.count(Syscall::kSelect);
    timeval tv{}, *timeout = nullptr;
    if (int ms = loop.lingers.timeout_ms(loop.pause.wait_ms()); ms >= 0) {
      tv = {ms / 1000, (ms % 1000) * 1000};
      timeout = &tv;
    }
    int n = ::select(nfds, &rd, &wr, nullptr, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "select");
    }
    ++loop.st.wakeups;
    if (loop.pause.end_if_due()) loop.watch(lfd, true, false);
    // The scan is the model's other cost: O(max_fd) per wakeup, however few are ready.
    bool accept_ready = false;
    for (int fd = 0; fd < nfds && n > 0; ++fd) {
      bool r = FD_ISSET(fd, &rd), w = FD_ISSET(fd, &wr);
      if (!r && !w) continue;
      n -= int(r) + int(w);  // select counts bits, an fd in both sets twice
      ++loop.st.events;
      if (fd == lfd) accept_ready = true;
      else if (fd != sfd) loop.on_ready(fd, r, w);
    }
    // Accept after the closes of this wakeup, so new connections reuse their
    // low fd numbers instead of landing at or past FD_SETSIZE.
    if (accept_ready) loop.accept_all();
    if (!loop.lingers.empty()) loop.expire_lingers();
  }
  loop.st.closed += loop.live;  // closed by the stop, not by the peer
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv, {.serve = &iomodels::serve});
}
