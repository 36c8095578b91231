// epoll_reuseport — N threads, each its own SO_REUSEPORT listener and epoll
// What the model is, its syscalls, needs and traps: docs/models.md, section epoll_reuseport.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <thread>
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

// One reactor. Everything it touches per message is its own; the only shared
// word is `live`, touched once per accept and close (never per message) so that
// --max-connections stays a whole-server cap whatever the hash does.
// A reactor is a socket I/O (recv, send, lingering close; its queue keyed by fd)
// with stats of its own, its listener and its epoll.
struct Reactor : BasicSocketIo<ServerStats> {
  std::atomic<size_t>& live;
  int listen_fd;
  Fd ep{};
  ConnsByFd<Connection> conns{};
  SpareFd spare{};

  // false: a connection's epoll_ctl failed (ENOSPC past max_user_watches,
  // ENOMEM): counted, and the caller closes that connection only. For the
  // listener or stop_fd it is a setup failure.
  bool watch(int op, int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    st.count(Syscall::kEpollCtl);
    if (::epoll_ctl(ep.get(), op, fd, &ev) == 0) return true;
    if (fd == listen_fd || fd == ctx.stop_fd) throw std::system_error(errno, std::generic_category(), "epoll_ctl");
    count_connection_failure("epoll_ctl", errno, st, ctx);
    return false;
  }

  void accept_all() {
    for (;;) {
      st.count(Syscall::kAccept4);
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, listen_fd, spare, st, ctx);
        if (f == AcceptFailure::kRetry) continue;
        // Another reactor may hold the slot our spare fd needs: then nothing
        // can be shed, and a level-triggered listener would spin. Back off.
        if (f == AcceptFailure::kCannotShed) pause_listener();
        return;  // this listener's backlog is empty
      }
      // The count is reserved before the check, so two reactors cannot both
      // take the last place.
      if (!admit_accepted(fd, live.fetch_add(1, std::memory_order_relaxed), st, ctx)) {
        live.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      conns.add(fd, std::make_unique<Connection>(Fd(fd), ctx.new_session(), ctx.opt.out_buffer_cap));
      if (!watch(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP)) close_conn(fd);
    }
  }

  // Out of fds with nothing to shed: stop watching the listener for a while.
  AcceptPause pause;
  void pause_listener() {
    if (pause.begin(st)) watch(EPOLL_CTL_MOD, listen_fd, 0);
  }
  int wait_timeout_ms() {
    if (pause.end_if_due()) watch(EPOLL_CTL_MOD, listen_fd, EPOLLIN);
    return pause.wait_ms();
  }

  void expire_lingers() {
    lingers.expire(now_ns(), [&](uint64_t fd) { return conns.find(int(fd)); },
                      [&](uint64_t fd) { close_conn(int(fd)); });
  }

  void close_conn(int fd) {
    conns.erase(fd);  // close(2) removes it from the epoll set too
    live.fetch_sub(1, std::memory_order_relaxed);
    count_close();
  }

  void on_event(int fd, uint32_t events) {
    Connection* found = conns.find(fd);
    if (found == nullptr) return;
    Connection& c = *found;
    bool had_out = c.wants_write(), was_reading = c.wants_read();
    bool ok = true;
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP) && c.wants_read()) ok = recv_once(c);
    if (ok && (events & EPOLLOUT || c.wants_write())) ok = flush(c);  // try at once: usually all fits
    if (ok && c.linger_due()) ok = lingers.start(c, uint64_t(fd), st);  // FIN now, close at EOF or deadline
    if (!ok || c.finished()) return close_conn(fd);
    // EPOLLOUT only while output is pending; EPOLLIN off while back-pressured.
    if (had_out != c.wants_write() || was_reading != c.wants_read())
      if (!watch(EPOLL_CTL_MOD, fd, (c.wants_read() ? EPOLLIN | EPOLLRDHUP : 0u) | (c.wants_write() ? EPOLLOUT : 0u)))
        close_conn(fd);
  }

  // The stop eventfd is registered in every reactor and never read, so one
  // write to it wakes them all (level-triggered) and they all see the stop.
  // On the main thread, for every reactor, before any serves: once one
  // connection was answered, no reactor can still fail to start (EMFILE).
  void setup() {
    ep = Fd(::epoll_create1(EPOLL_CLOEXEC));
    if (!ep) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    watch(EPOLL_CTL_ADD, listen_fd, EPOLLIN);
    watch(EPOLL_CTL_ADD, ctx.stop_fd, EPOLLIN);
  }

  void run() {
    epoll_event events[kMaxEvents];
    while (!ctx.stop_requested()) {
      st.count(Syscall::kEpollWait);
      int n = ::epoll_wait(ep.get(), events, kMaxEvents, lingers.timeout_ms(wait_timeout_ms()));
      if (n < 0) {
        if (errno == EINTR) continue;
        throw std::system_error(errno, std::generic_category(), "epoll_wait");
      }
      ++st.wakeups;
      for (int i = 0; i < n; ++i) {
        ++st.events;
        int fd = events[i].data.fd;
        if (fd == listen_fd) accept_all();
        else if (fd != ctx.stop_fd) on_event(fd, events[i].events);
      }
      if (!lingers.empty()) expire_lingers();
    }
    st.closed += conns.size();  // closed by the stop, not by the peer
    conns.clear();
  }
};

int serve(ServerContext& ctx) {
  const int n = ctx.opt.threads > 0 ? ctx.opt.threads : 1;
  // Reactor 0 uses the listener server_main made (with SO_REUSEPORT, see the
  // ModelSpec); the others join its port. All are bound before any thread runs,
  // so a bind failure is a setup error, not a half-started server.
  std::vector<Fd> listeners;
  ListenerOptions lo;
  lo.bind = ctx.opt.bind;
  lo.port = local_port(ctx.listener.get());
  lo.nonblocking = true;
  lo.reuseport = true;
  for (int i = 1; i < n; ++i) listeners.push_back(make_listener(lo));
  set_nonblocking(ctx.listener.get());

  std::atomic<size_t> live{0};
  std::vector<std::unique_ptr<Reactor>> reactors;
  for (int i = 0; i < n; ++i)
    reactors.emplace_back(new Reactor{{ctx, {}}, live, i == 0 ? ctx.listener.get() : listeners[i - 1].get()});
  for (auto& r : reactors) r->setup();
  for (auto& r : reactors) ctx.attach_stats(r->st);  // SIGUSR1 snapshots see them live

  std::atomic<bool> failed{false};
  auto run_one = [&](Reactor& r) {
    try {
      r.run();
    } catch (const std::exception& e) {
      ctx.log(std::string("reactor failed: ") + e.what());
      failed = true;
      ctx.request_stop();  // one reactor down: stop the rest rather than serve a third of the port
    }
  };
  std::vector<std::thread> threads;
  for (int i = 1; i < n; ++i) threads.emplace_back(run_one, std::ref(*reactors[i]));
  run_one(*reactors[0]);
  for (auto& t : threads) t.join();

  for (int i = 0; i < n; ++i) {
    ServerStats& st = reactors[i]->st;
    st.extra["thread" + std::to_string(i) + "_accepted"] = st.accepted;
    ctx.merge_stats(st);
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv,
                                      {.serve = &iomodels::serve,
                                       .uses_threads = true,
                                       .reuseport_listener = true});
}
