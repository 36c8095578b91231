// libevent_bufferevent — libevent's evconnlistener + bufferevent
// What the model is, its syscalls, needs and traps: docs/models.md, section libevent_bufferevent.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <signal.h>
#include <sys/socket.h>

#include <memory>
#include <new>
#include <unordered_map>

#include "core/buffer.h"
#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"

namespace iomodels {
namespace {

struct Server;

struct Conn {
  Server& srv;
  int fd;
  bufferevent* bev;
  std::unique_ptr<ServerSession> session;
  uint64_t queued = 0;     // reply bytes handed to the output evbuffer, not yet counted as sent
  bool closing = false;    // the protocol said close: flush, then close
  bool peer_eof = false;   // the peer half-closed: flush, then close
  bool throttled = false;  // EV_READ off because the output evbuffer is over the cap
  bool lingering = false;  // closing, reply out, write side shut: reading only to drop bytes
  size_t discarded = 0;
  uint64_t linger_deadline_ns = 0;
  BudgetCharge charge;     // session's staged frame + output evbuffer (buffer_budget.h)
  ~Conn() { bufferevent_free(bev); }  // BEV_OPT_CLOSE_ON_FREE: closes fd
};

struct Server {
  ServerContext& ctx;
  ServerStats& st;
  std::unique_ptr<event_base, decltype(&event_base_free)> base{nullptr, &event_base_free};
  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // destroyed before base
  Buffer out{64 * 1024};  // replies built here, then copied into the output evbuffer
  SpareFd spare;
  AcceptPause pause;
  evconnlistener* listener = nullptr;  // disabled while paused
  event* resume_ev = nullptr;          // the pause's timer

  size_t unsent(Conn& k) { return evbuffer_get_length(bufferevent_get_output(k.bev)); }

  void account_sent(Conn& k) {
    size_t left = unsent(k);
    st.bytes_out += k.queued - left;
    k.queued = left;
  }

  void close_conn(Conn& k) {
    account_sent(k);
    conns.erase(k.fd);
    st.count(Syscall::kClose);
    ++st.closed;
  }

  // The reply owed before a close is out: FIN, then read and drop what the
  // peer still sends until its EOF, kLingerBytes or kLingerNs, so that the
  // close sends no RST that could destroy the reply (see connection.h).
  void finish_closing(Conn& k) {
    if (k.peer_eof) return close_conn(k);
    st.count(Syscall::kShutdown);
    if (::shutdown(k.fd, SHUT_WR) != 0) return close_conn(k);
    k.lingering = true;
    k.linger_deadline_ns = now_ns() + Connection::kLingerNs;
    timeval limit{time_t(Connection::kLingerNs / 1'000'000'000), 0};
    bufferevent_set_timeouts(k.bev, &limit, nullptr);  // BEV_EVENT_TIMEOUT closes
    bufferevent_enable(k.bev, EV_READ);
  }

  void feed(Conn& k, const char* p, size_t n) {
    st.bytes_in += n;
    if (k.closing) return;  // after "close", input is ignored; the owed reply still goes
    ServeResult r = k.session->on_bytes({p, n}, out);
    st.messages += k.session->message_per_read() ? 0 : r.messages;  // echo: counted per callback
    if (r.after == ServeResult::After::kProtocolError) ++st.protocol_errors;
    if (r.after != ServeResult::After::kContinue) k.closing = true;
  }

  // The callbacks are called from C: no exception may leave them. One thrown
  // while serving a connection (bad_alloc in the protocol) costs it only.
  static void on_read(bufferevent* bev, void* arg) noexcept {
    Conn& k = *static_cast<Conn*>(arg);
    Server& s = k.srv;
    ++s.st.events;
    try {
      s.read_input(k, bev);
    } catch (const std::exception& e) {
      count_connection_failure(e, s.st, s.ctx);
      s.out.clear();
      s.close_conn(k);
    }
  }

  void read_input(Conn& k, bufferevent* bev) {
    Server& s = *this;  // the body was the callback's
    evbuffer* in = bufferevent_get_input(bev);
    if (k.lingering) {
      size_t len = evbuffer_get_length(in);
      s.st.bytes_in += len;
      k.discarded += len;
      evbuffer_drain(in, len);
      if (k.discarded >= Connection::kLingerBytes || now_ns() >= k.linger_deadline_ns) s.close_conn(k);
      return;
    }
    evbuffer_iovec vec[16];
    // Echo: one message per read callback that carried data, not per evbuffer chain.
    if (!k.closing && k.session->message_per_read() && evbuffer_get_length(in) > 0) ++s.st.messages;
    while (size_t len = evbuffer_get_length(in)) {
      int n = evbuffer_peek(in, -1, nullptr, vec, 16);
      size_t taken = 0;
      for (int i = 0; i < n && i < 16; ++i) {
        s.feed(k, static_cast<const char*>(vec[i].iov_base), vec[i].iov_len);
        taken += vec[i].iov_len;
      }
      evbuffer_drain(in, taken ? taken : len);
    }
    if (!s.out.empty()) {
      evbuffer_add(bufferevent_get_output(bev), s.out.peek(), s.out.readable_bytes());
      k.queued += s.out.readable_bytes();
      s.out.clear();
    }
    if (!k.closing && !k.charge.update(k.session->buffered_capacity() + s.unsent(k))) s.refuse_over_budget(k);
    if (k.closing) {
      bufferevent_disable(bev, EV_READ);
      if (s.unsent(k) == 0) s.finish_closing(k);  // else the write callback does
    } else if (s.unsent(k) >= s.ctx.opt.out_buffer_cap) {
      // A slow reader: stop reading until libevent has drained half the backlog.
      bufferevent_disable(bev, EV_READ);
      bufferevent_setwatermark(bev, EV_WRITE, s.ctx.opt.out_buffer_cap / 2, 0);
      k.throttled = true;
    }
  }

  // Over the server-wide budget: drop what this connection holds (its staged
  // frame, its unsent replies) and close it like a refusal, lingering.
  void refuse_over_budget(Conn& k) {
    ++st.extra["buffer_budget_refusals"];
    account_sent(k);
    evbuffer* o = bufferevent_get_output(k.bev);
    evbuffer_drain(o, evbuffer_get_length(o));
    k.queued = 0;
    k.session.reset();  // feed() never calls it once closing
    k.closing = true;
    k.charge.release();
  }

  // Fires after a write leaves the output at or below the low watermark: 0
  // (drained) normally, cap/2 while throttled.
  static void on_write(bufferevent* bev, void* arg) noexcept {
    Conn& k = *static_cast<Conn*>(arg);
    Server& s = k.srv;
    ++s.st.events;
    s.account_sent(k);
    if (k.session) k.charge.update(k.session->buffered_capacity() + s.unsent(k));  // shrinks: never refuses
    if ((k.closing || k.peer_eof) && !k.lingering && s.unsent(k) == 0) return s.finish_closing(k);
    if (k.throttled && !k.closing && !k.peer_eof) {
      k.throttled = false;
      bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
      bufferevent_enable(bev, EV_READ);
    }
  }

  static void on_event(bufferevent*, short what, void* arg) noexcept {
    Conn& k = *static_cast<Conn*>(arg);
    Server& s = k.srv;
    ++s.st.events;
    if (what & BEV_EVENT_ERROR) {
      int err = EVUTIL_SOCKET_ERROR();
      if (classify_errno(err) == ErrnoClass::kPeerGone) ++s.st.peer_resets;
      else { ++s.st.unexpected_errors; s.ctx.log(describe_errno(what & BEV_EVENT_READING ? "readv" : "writev", err)); }
      return s.close_conn(k);
    }
    if (what & BEV_EVENT_TIMEOUT) return s.close_conn(k);  // only a lingering close sets one
    if (what & BEV_EVENT_EOF) {  // libevent already disabled EV_READ
      k.peer_eof = true;
      if (k.lingering || s.unsent(k) == 0) s.close_conn(k);  // else the write callback closes it once drained
    }
  }

  // Counting libevent's own readv/writev: the evbuffer callbacks see each one
  // that moved bytes (our drain and add are the other direction, not counted).
  static void on_input_changed(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept {
    if (info->n_added) static_cast<Server*>(arg)->st.count(Syscall::kReadv);
  }
  static void on_output_changed(evbuffer*, const evbuffer_cb_info* info, void* arg) noexcept {
    if (info->n_deleted) static_cast<Server*>(arg)->st.count(Syscall::kWritev);
  }

  static void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) noexcept {
    Server& s = *static_cast<Server*>(arg);
    ++s.st.events;
    s.st.count(Syscall::kAccept4);
    if (!admit_accepted(fd, s.conns.size(), s.st, s.ctx)) return;
    auto refuse = [&](const char* what) {  // this connection only: out of memory
      count_connection_failure(what, ENOMEM, s.st, s.ctx);
      s.st.count(Syscall::kClose);
      ++s.st.closed;
    };
    std::unique_ptr<ServerSession> session;
    try {
      session = s.ctx.new_session();
    } catch (const std::exception&) {
      ::close(fd);
      return refuse("new_session");
    }
    bufferevent* bev = bufferevent_socket_new(s.base.get(), fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) { ::close(fd); return refuse("bufferevent_socket_new"); }
    std::unique_ptr<Conn> k(new (std::nothrow) Conn{s, int(fd), bev, std::move(session)});
    if (!k) { bufferevent_free(bev); return refuse("new Conn"); }  // frees bev, closes fd
    if (int64_t m = s.ctx.opt.extra_int("max-single-read"); m > 0) {
      bufferevent_set_max_single_read(bev, size_t(m));
#if LIBEVENT_VERSION_NUMBER >= 0x02020000
      evbuffer_set_max_read(bufferevent_get_input(bev), size_t(m));  // 2.2 lifts the 4 KiB clamp
#endif
    }
    if (int64_t m = s.ctx.opt.extra_int("max-single-write"); m > 0) bufferevent_set_max_single_write(bev, size_t(m));
    // What libevent took (the stats show the settings in force, for the tests).
    s.st.extra["max_single_read"] = uint64_t(bufferevent_get_max_single_read(bev));
    s.st.extra["max_single_write"] = uint64_t(bufferevent_get_max_single_write(bev));
    evbuffer_add_cb(bufferevent_get_input(bev), &on_input_changed, &s);
    evbuffer_add_cb(bufferevent_get_output(bev), &on_output_changed, &s);
    bufferevent_setcb(bev, &on_read, &on_write, &on_event, k.get());
    try {
      s.conns.emplace(int(fd), std::move(k));
    } catch (const std::exception&) {
      k.reset();  // if the map took it, the map already freed it
      return refuse("conns.emplace");
    }
    if (bufferevent_enable(bev, EV_READ | EV_WRITE) != 0) {  // its event_add (epoll_ctl) failed: unwatched
      count_connection_failure("bufferevent_enable", errno, s.st, s.ctx);
      s.close_conn(*s.conns.at(int(fd)));
    }
  }

  // accept4 failed with something other than EAGAIN/EINTR/ECONNABORTED.
  static void on_accept_error(evconnlistener* l, void* arg) noexcept {
    Server& s = *static_cast<Server*>(arg);
    AcceptFailure f = on_accept_failure(EVUTIL_SOCKET_ERROR(), evconnlistener_get_fd(l), s.spare, s.st, s.ctx);
    // Nothing could be shed: the listener stays readable and libevent would
    // call accept4 again on every loop pass.
    if (f == AcceptFailure::kCannotShed && s.pause.begin(s.st)) {
      evconnlistener_disable(l);
      timeval left{0, long(s.pause.ns_left() / 1000) + 1};
      event_add(s.resume_ev, &left);
    }
  }
  static void on_resume(evutil_socket_t, short, void* arg) noexcept {
    Server& s = *static_cast<Server*>(arg);
    ++s.st.events;
    if (s.pause.end_if_due()) { evconnlistener_enable(s.listener); return; }
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

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  Server s{ctx, ctx.stats};
  s.base.reset(event_base_new());
  if (!s.base) throw std::runtime_error("event_base_new failed");
  ctx.log(std::string("libevent ") + event_get_version() + ", backend " + event_base_get_method(s.base.get()));

  // ctx.listener keeps owning the fd (no LEV_OPT_CLOSE_ON_FREE); backlog 0:
  // it is listening already.
  std::unique_ptr<evconnlistener, decltype(&evconnlistener_free)> listener(
      evconnlistener_new(s.base.get(), &Server::on_accept, &s, LEV_OPT_CLOSE_ON_EXEC, 0, ctx.listener.get()),
      &evconnlistener_free);
  if (!listener) throw std::runtime_error("evconnlistener_new failed");
  evconnlistener_set_error_cb(listener.get(), &Server::on_accept_error);
  using EventPtr = std::unique_ptr<event, decltype(&event_free)>;
  EventPtr resume_ev(evtimer_new(s.base.get(), &Server::on_resume, &s), &event_free);
  if (!resume_ev) throw std::runtime_error("evtimer_new failed");
  s.listener = listener.get();
  s.resume_ev = resume_ev.get();
  EventPtr term_ev(evsignal_new(s.base.get(), SIGTERM, &Server::on_signal, &s), &event_free);
  EventPtr int_ev(evsignal_new(s.base.get(), SIGINT, &Server::on_signal, &s), &event_free);
  if (!term_ev || !int_ev || event_add(term_ev.get(), nullptr) != 0 || event_add(int_ev.get(), nullptr) != 0)
    throw std::runtime_error("evsignal_new/event_add failed");
  unblock_stop_signals();  // blocked by server_main until our evsignals exist

  while (!ctx.stop_requested()) {  // EVLOOP_ONCE: each return is one pass, our wakeup
    s.st.count(Syscall::kEventBaseLoop);
    int r = event_base_loop(s.base.get(), EVLOOP_ONCE);
    ++s.st.wakeups;
    if (r < 0) throw std::runtime_error("event_base_loop failed");
  }
  for (auto& [fd, k] : s.conns) s.account_sent(*k);
  s.st.closed += s.conns.size();  // closed by the stop, not by the peer
  s.conns.clear();
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(
      argc, argv,
      {.serve = &iomodels::serve,
       .extra_options = {{"max-single-read", 0, "bufferevent_set_max_single_read; 0 = libevent's default "
                          "(16384 per callback; each readv clamped to 4096 in libevent 2.1)", 0, 1 << 30},
                         {"max-single-write", 0, "bufferevent_set_max_single_write; 0 = libevent's default "
                          "(16384 per callback)", 0, 1 << 30}},
       .owns_signals = true});
}
