// libevent — libevent's event API
// What the model is, its syscalls, needs and traps: docs/models.md, section libevent.
#include <event2/event.h>
#include <event2/event_struct.h>
#include <signal.h>
#include <sys/socket.h>

#include <memory>
#include <unordered_map>

#include "core/clock.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/socket_io.h"

namespace iomodels {
namespace {

struct Server;

struct Conn {
  Server& srv;
  Connection c;
  event rd{}, wr{};  // --events two: persistent, added while wanted
  bool rd_on = false, wr_on = false;
  event ev{};        // --events one: re-assigned as the interest changes
  short armed = 0;   // its EV_READ/EV_WRITE currently added; 0 = not added
  Conn(Server& s, Connection conn) : srv(s), c(std::move(conn)) {}
  ~Conn() {  // before Connection closes the fd
    if (rd_on) event_del(&rd);
    if (wr_on) event_del(&wr);
    if (armed) event_del(&ev);
  }
};

struct Server {
  ServerContext& ctx;
  ServerStats& st;
  std::unique_ptr<event_base, decltype(&event_base_free)> base{nullptr, &event_base_free};
  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // destroyed before base
  SpareFd spare;
  AcceptPause pause;
  event* listen_ev = nullptr;  // taken out of the loop while paused
  event* resume_ev = nullptr;  // the pause's timer
  SocketIo io{ctx, st};  // recv, send (its linger queue unused: an event timeout ends a linger)
  uint64_t rearms = 0;
  bool one_event = false;  // --events one

  static timeval linger_left(const Connection& c) {
    uint64_t now = now_ns(), end = c.linger_deadline_ns();
    uint64_t us = end > now ? (end - now) / 1000 : 0;
    return {time_t(us / 1'000'000), suseconds_t(us % 1'000'000)};
  }
  // A failed event_add (its epoll_ctl) throws; the callback catches it.
  static void add(event* ev, const timeval* timeout) {
    if (event_add(ev, timeout) != 0) throw std::runtime_error("event_add failed");
  }

  void arm(Conn& k) {
    if (one_event) return arm_one(k);
    bool read = k.c.wants_read(), write = k.c.wants_write();
    bool lingering = k.c.lingering();  // re-added too, to set the time left as its timeout
    if (read != k.rd_on || (read && lingering)) {
      timeval left = linger_left(k.c);
      read ? add(&k.rd, lingering ? &left : nullptr) : void(event_del(&k.rd));
      rearms += read != k.rd_on, k.rd_on = read;
    }
    if (write != k.wr_on) {
      write ? add(&k.wr, nullptr) : void(event_del(&k.wr));
      ++rearms, k.wr_on = write;
    }
  }

  void arm_one(Conn& k) {
    short want = short((k.c.wants_read() ? EV_READ : 0) | (k.c.wants_write() ? EV_WRITE : 0));
    bool lingering = k.c.lingering();
    if (want == k.armed && !lingering) return;  // no transition: the persistent event stays as it is
    if (want != k.armed) {
      if (k.armed) event_del(&k.ev);
      event_assign(&k.ev, base.get(), k.c.fd(), short(want | EV_PERSIST), &on_conn_event, &k);
      ++rearms;
    }
    timeval left = linger_left(k.c);
    add(&k.ev, lingering ? &left : nullptr);
    k.armed = want;
  }

  void close_conn(Conn& k) {
    conns.erase(k.c.fd());  // ~Conn: event_del, then close(2)
    io.count_close();
  }

  // Called from C: no exception may leave it. One that is thrown (a failed
  // event_add, bad_alloc) costs this connection only.
  static void on_conn_event(evutil_socket_t, short what, void* arg) noexcept {
    Conn& k = *static_cast<Conn*>(arg);
    Server& s = k.srv;
    ++s.st.events;
    try {
      bool ok = true;
      // One recv per callback: libevent's epoll is level-triggered, so what is left
      // comes back on the next loop pass, after the other connections had a turn.
      if ((what & EV_READ) && k.c.wants_read()) ok = s.io.recv_once(k.c);
      // Try at once: usually it all fits; the rest waits for EV_WRITE.
      if (ok && k.c.wants_write()) ok = s.io.flush(k.c);
      if (ok && k.c.linger_due()) ok = start_linger(k.c, s.st);  // FIN now; EOF or the timeout closes
      if (!ok || k.c.finished() || (what & EV_TIMEOUT)) return s.close_conn(k);
      s.arm(k);
    } catch (const std::exception& e) {
      count_connection_failure(e, s.st, s.ctx);
      s.close_conn(k);
    }
  }

  static void on_accept(evutil_socket_t lfd, short, void* arg) noexcept {
    Server& s = *static_cast<Server*>(arg);
    ++s.st.events;
    for (;;) {
      s.st.count(Syscall::kAccept4);
      int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, lfd, s.spare, s.st, s.ctx);
        if (f == AcceptFailure::kRetry) continue;
        // Nothing could be shed: the listener stays readable and this
        // persistent event would fire on every loop pass.
        if (f == AcceptFailure::kCannotShed) s.pause_listener();
        return;
      }
      if (!admit_accepted(fd, s.conns.size(), s.st, s.ctx)) continue;
      Fd owned(fd);
      try {
        auto k = std::make_unique<Conn>(s, Connection(std::move(owned), s.ctx.new_session(), s.ctx.opt.out_buffer_cap));
        Conn& ref = *k;
        event_assign(&ref.rd, s.base.get(), fd, EV_READ | EV_PERSIST, &on_conn_event, &ref);
        event_assign(&ref.wr, s.base.get(), fd, EV_WRITE | EV_PERSIST, &on_conn_event, &ref);
        s.conns.emplace(fd, std::move(k));
        s.arm(ref);
      } catch (const std::exception& e) {
        count_connection_failure(e, s.st, s.ctx);
        if (auto it = s.conns.find(fd); it != s.conns.end()) s.close_conn(*it->second);
        else s.io.count_close();  // an Fd on the way closed it
      }
    }
  }

  void pause_listener() {
    if (!pause.begin(st)) return;
    event_del(listen_ev);
    timeval left{0, long(pause.ns_left() / 1000) + 1};
    event_add(resume_ev, &left);
  }
  static void on_resume(evutil_socket_t, short, void* arg) noexcept {
    Server& s = *static_cast<Server*>(arg);
    ++s.st.events;
    if (s.pause.end_if_due()) { event_add(s.listen_ev, nullptr); return; }
    timeval left{0, long(s.pause.ns_left() / 1000) + 1};  // a timer that fired early
    event_add(s.resume_ev, &left);
  }

  static void on_signal(evutil_socket_t, short, void* arg) noexcept {
    Server& s = *static_cast<Server*>(arg);
    ++s.st.events;
    s.ctx.request_stop();
    event_base_loopbreak(s.base.get());
  }
};

using EventPtr = std::unique_ptr<event, decltype(&event_free)>;

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  Server s{ctx, ctx.stats};
  s.one_event = ctx.opt.extra_int("events") == 0;
  s.base.reset(event_base_new());
  if (!s.base) throw std::runtime_error("event_base_new failed");
  ctx.log(std::string("libevent ") + event_get_version() + ", backend " + event_base_get_method(s.base.get()));

  EventPtr listen_ev(event_new(s.base.get(), ctx.listener.get(), EV_READ | EV_PERSIST, &Server::on_accept, &s),
                     &event_free);
  EventPtr resume_ev(evtimer_new(s.base.get(), &Server::on_resume, &s), &event_free);
  s.listen_ev = listen_ev.get();
  s.resume_ev = resume_ev.get();
  EventPtr term_ev(evsignal_new(s.base.get(), SIGTERM, &Server::on_signal, &s), &event_free);
  EventPtr int_ev(evsignal_new(s.base.get(), SIGINT, &Server::on_signal, &s), &event_free);
  if (!listen_ev || !resume_ev || !term_ev || !int_ev || event_add(listen_ev.get(), nullptr) != 0 ||
      event_add(term_ev.get(), nullptr) != 0 || event_add(int_ev.get(), nullptr) != 0)
    throw std::runtime_error("event_new/event_add failed");
  unblock_stop_signals();  // blocked by server_main until our evsignals exist

  // EVLOOP_ONCE per call rather than one event_base_dispatch: each return is
  // one pass (one backend wait and the callbacks it made ready) — our wakeups.
  while (!ctx.stop_requested()) {
    s.st.count(Syscall::kEventBaseLoop);
    int r = event_base_loop(s.base.get(), EVLOOP_ONCE);
    ++s.st.wakeups;
    if (r < 0) throw std::runtime_error("event_base_loop failed");
  }
  s.st.closed += s.conns.size();  // closed by the stop, not by the peer
  s.conns.clear();
  s.st.extra["event_rearms"] = s.rearms;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv,
                                      {.serve = &iomodels::serve,
                                       .extra_options = {{"events", 1,
                                                          "one: a single event re-assigned per change (del+add) | "
                                                          "two: a read and a write event (libevent's usual pattern)",
                                                          0, 1, {"one", "two"}}},
                                       .owns_signals = true});
}
