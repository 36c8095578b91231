// libuv — libuv: one uv_loop_t, uv_read_start, uv_try_write then uv_write (epoll underneath)
// What the model is, its syscalls, needs and traps: docs/models.md, section libuv.
#include <signal.h>
#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <new>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/wrapped_syscalls.h"

namespace iomodels {
namespace {

struct Server;

struct Conn {
  Conn(Server& s, Connection conn) : srv(s), c(std::move(conn)) {}
  uv_tcp_t h{};
  Server& srv;
  Connection c;
  std::unique_ptr<char[]> in;
  int writes = 0;  // uv_write requests whose callback has not run
  bool reading = false, closing = false;
  bool yield = false;  // the last read filled the buffer: give the others a turn first
};

// One reply batch on its way: the bytes live here until the callback.
struct WriteReq : uv_write_t {
  Buffer bytes;
};

uv_stream_t* stream(Conn& k) { return reinterpret_cast<uv_stream_t*>(&k.h); }
uv_handle_t* handle(auto* h) { return reinterpret_cast<uv_handle_t*>(h); }

struct Server {
  ServerContext& ctx;
  ServerStats& st;
  uv_loop_t loop{};
  uv_poll_t listener{};
  uv_timer_t backoff{};
  uv_timer_t linger_timer{};  // the oldest lingering connection's deadline
  LingerQueue lingers;        // refused connections draining before close, by Conn*
  uv_signal_t sigterm{}, sigint{};
  std::unordered_set<Conn*> conns;
  std::vector<std::unique_ptr<WriteReq>> free_reqs;
  SpareFd spare;
  bool try_write = true;
  uint64_t reqs_made = 0, queued_writes = 0;

  static Server& of(auto* h) { return *static_cast<Server*>(h->data); }
  static Conn& conn(auto* h) { return *static_cast<Conn*>(h->data); }

  bool can_read(Conn& k) {
    return k.c.wants_read() && uv_stream_get_write_queue_size(stream(k)) < ctx.opt.out_buffer_cap;
  }

  static void on_listener(uv_poll_t* p, int status, int) {
    Server& s = of(p);
    ++s.st.events;
    if (status < 0) return s.ctx.log(std::string("uv_poll: ") + uv_strerror(status));
    try {
      s.accept_all();
    } catch (const std::exception& e) {  // never across libuv's C frames
      s.dropped(e);
    }
  }

  void accept_all() {
    int lfd = ctx.listener.get();
    for (;;) {
      int fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);  // counted by the wrap
      if (fd < 0) {
        AcceptFailure f = on_accept_failure(errno, lfd, spare, st, ctx);
        if (f == AcceptFailure::kRetry) continue;
        if (f == AcceptFailure::kCannotShed) pause_accepting();
        return;  // the backlog is empty (or shed: level-triggered, the poll comes back)
      }
      if (!admit_accepted(fd, conns.size(), st, ctx)) continue;
      auto k = std::make_unique<Conn>(*this, Connection(Fd(), ctx.new_session(), ctx.opt.out_buffer_cap));
      uv_tcp_init(&loop, &k->h);
      k->h.data = k.get();
      if (int r = uv_tcp_open(&k->h, fd); r < 0) {  // the handle owns fd only once this succeeded
        ::close(fd);
        st.count(Syscall::kClose);
        ++st.unexpected_errors;
        ctx.log(std::string("uv_tcp_open: ") + uv_strerror(r));
        uv_close(handle(&k.release()->h), [](uv_handle_t* h) { delete &conn(h); });
        continue;
      }
      conns.insert(k.get());
      progress(*k.release());
    }
  }

  // Out of fds with nothing to shed: the level-triggered listener would report
  // the same pending connection on every pass.
  void pause_accepting() {
    count_accept_pause(st);
    uv_poll_stop(&listener);
    uv_timer_start(&backoff, [](uv_timer_t* t) {
      Server& s = of(t);
      ++s.st.events;
      uv_poll_start(&s.listener, UV_READABLE, &on_listener);
    }, 10, 0);
  }

  // libuv reads a readable stream up to 32 times in a row while each read
  // fills the buffer: 2 MiB for a busy peer while a neighbour's 64 B request
  // waits. After a full read we hand out an empty buffer once; libuv then calls
  // back with UV_ENOBUFS and moves on, and the level-triggered epoll reports
  // the rest next pass: one read per connection per pass, as epoll_lt does.
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    Conn& k = conn(h);
    if (std::exchange(k.yield, false)) {
      *buf = uv_buf_init(nullptr, 0);
      return;
    }
    if (!k.in) k.in.reset(new (std::nothrow) char[Connection::kReadChunk]);
    // No memory: a zero-length buffer makes libuv report UV_ENOBUFS, and we close.
    *buf = uv_buf_init(k.in.get(), k.in ? Connection::kReadChunk : 0);
  }

  // No exception may cross libuv's C frames: a failure while serving one
  // connection (bad_alloc in the protocol...) closes that connection only.
  template <typename F>
  static void guard(Conn& k, F&& f) noexcept {
    try {
      f();
    } catch (const std::exception& e) {
      k.srv.dropped(e);
      k.srv.close(k);
    }
  }
  void dropped(const std::exception& e) {
    ++st.unexpected_errors;
    ctx.log(std::string("connection dropped: ") + e.what());
  }

  static void on_read(uv_stream_t* h, ssize_t n, const uv_buf_t*) {
    guard(conn(h), [&] { read_done(conn(h), n); });
  }
  static void read_done(Conn& k, ssize_t n) {
    Server& s = k.srv;
    ++s.st.events;
    if (n == 0) return;  // read(2) said EAGAIN: libuv waits for the next readiness
    if (n == UV_ENOBUFS && k.in) return;  // our yield (see on_alloc): still reading
    if (n > 0) {
      k.yield = size_t(n) == Connection::kReadChunk;
      k.c.on_received(k.in.get(), size_t(n), s.st);
    } else {
      k.reading = false;  // libuv stopped reading on EOF and on errors
      if (n == UV_EOF) k.c.on_peer_eof();
      else if (!keep_after_io_error(int(-n), "read", s.st, s.ctx)) return s.close(k);
    }
    s.progress(k);
  }

  // Replies go out as Node.js sends them: uv_try_write first (one write(2), no
  // request, nothing queued), and a uv_write request for what did not fit.
  // --try-write 0 sends every batch through uv_write, the plain libuv shape.
  void write(Conn& k) {
    if (try_write && uv_stream_get_write_queue_size(stream(k)) == 0) {
      uv_buf_t b = uv_buf_init(const_cast<char*>(k.c.out().peek()), unsigned(k.c.out().readable_bytes()));
      int n = uv_try_write(stream(k), &b, 1);
      if (n > 0) k.c.on_sent(size_t(n), st);
      else if (n != UV_EAGAIN && !keep_after_io_error(-n, "write", st, ctx)) return close(k);
      if (!k.c.wants_write()) return;
    }
    std::unique_ptr<WriteReq> w;
    if (free_reqs.empty()) {
      w = std::make_unique<WriteReq>();
      ++reqs_made;
    } else {
      w = std::move(free_reqs.back());
      free_reqs.pop_back();
    }
    std::swap(w->bytes, k.c.out());  // out gets the request's spare storage: no allocation
    w->data = &k;
    uv_buf_t b = uv_buf_init(const_cast<char*>(w->bytes.peek()), unsigned(w->bytes.readable_bytes()));
    if (int r = uv_write(w.get(), stream(k), &b, 1, &on_written); r < 0) {
      recycle(std::move(w));
      if (!keep_after_io_error(-r, "write", st, ctx)) close(k);
      return;
    }
    w.release();
    ++k.writes;
    ++queued_writes;
  }

  static void on_written(uv_write_t* req, int status) {
    guard(conn(req), [&] { write_done(req, status); });
  }
  static void write_done(uv_write_t* req, int status) {
    std::unique_ptr<WriteReq> w(static_cast<WriteReq*>(req));
    Conn& k = conn(req);
    Server& s = k.srv;
    ++s.st.events;
    --k.writes;
    if (status == 0) s.st.bytes_out += w->bytes.readable_bytes();
    s.recycle(std::move(w));
    if (k.closing) return;  // UV_ECANCELED from our uv_close
    if (status < 0 && !keep_after_io_error(-status, "write", s.st, s.ctx)) return s.close(k);
    s.progress(k);
  }

  void recycle(std::unique_ptr<WriteReq> w) {
    w->bytes.clear();
    w->bytes.shrink_if_idle();
    free_reqs.push_back(std::move(w));
  }

  // After every callback: hand libuv the replies, read or not, close when done.
  void progress(Conn& k) {
    // Bytes queued in libuv count toward the cap; held-back input may be served.
    k.c.set_in_flight(uv_stream_get_write_queue_size(stream(k)), st);
    if (k.c.wants_write()) write(k);
    if (k.closing) return;
    bool want = can_read(k);
    if (want && !k.reading) uv_read_start(stream(k), &on_alloc, &on_read);
    if (!want && k.reading) uv_read_stop(stream(k));
    k.reading = want;
    if (k.writes == 0 && k.c.linger_due()) linger(k);
    if (k.c.finished() && k.writes == 0) close(k);
  }

  // The reply is out: FIN now, keep reading (dropped) until EOF or the deadline.
  void linger(Conn& k) {
    uv_os_fd_t fd = -1;
    if (uv_fileno(handle(&k.h), &fd) != 0 || !lingers.start(k.c, reinterpret_cast<uint64_t>(&k), st, fd))
      return close(k);
    if (!k.reading) uv_read_start(stream(k), &on_alloc, &on_read), k.reading = true;
    if (!uv_is_active(handle(&linger_timer))) uv_timer_start(&linger_timer, &on_linger_timer, lingers.timeout_ms(), 0);
  }

  static void on_linger_timer(uv_timer_t* t) {
    Server& s = of(t);
    ++s.st.events;
    auto at = [](uint64_t key) { return reinterpret_cast<Conn*>(key); };
    s.lingers.expire(now_ns(), [&](uint64_t key) { return s.conns.count(at(key)) ? &at(key)->c : nullptr; },
                     [&](uint64_t key) { s.close(*at(key)); });
    if (!s.lingers.empty()) uv_timer_start(t, &on_linger_timer, s.lingers.timeout_ms(), 0);
  }

  // Pending writes are called back with UV_ECANCELED before on_closed.
  void close(Conn& k) {
    if (k.closing) return;
    k.closing = true;
    uv_close(handle(&k.h), [](uv_handle_t* h) {
      Conn* c = &conn(h);
      c->srv.conns.erase(c);
      delete c;
    });
    st.count(Syscall::kClose);
    ++st.closed;
  }

  static void on_signal(uv_signal_t* sig, int) {
    Server& s = of(sig);
    ++s.st.events;
    s.ctx.request_stop();
    // Once every handle is closed, uv_run returns.
    for (auto* h : {handle(&s.listener), handle(&s.backoff), handle(&s.linger_timer), handle(&s.sigterm),
                    handle(&s.sigint)})
      if (!uv_is_closing(h)) uv_close(h, nullptr);
    std::vector<Conn*> all(s.conns.begin(), s.conns.end());
    for (Conn* k : all) s.close(*k);
  }
};

void check(int r, const char* call) {
  if (r < 0) throw std::system_error(-r, std::generic_category(), call);
}

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());
  count_wrapped_syscalls(&ctx.stats);
  Server s{ctx, ctx.stats};
  s.try_write = ctx.opt.extra_int("try-write") != 0;
  check(uv_loop_init(&s.loop), "uv_loop_init");
  check(uv_poll_init_socket(&s.loop, &s.listener, ctx.listener.get()), "uv_poll_init_socket");
  check(uv_timer_init(&s.loop, &s.backoff), "uv_timer_init");
  check(uv_timer_init(&s.loop, &s.linger_timer), "uv_timer_init");
  check(uv_signal_init(&s.loop, &s.sigterm), "uv_signal_init");
  check(uv_signal_init(&s.loop, &s.sigint), "uv_signal_init");
  s.listener.data = s.backoff.data = s.linger_timer.data = s.sigterm.data = s.sigint.data = &s;
  check(uv_signal_start(&s.sigterm, &Server::on_signal, SIGTERM), "uv_signal_start");
  check(uv_signal_start(&s.sigint, &Server::on_signal, SIGINT), "uv_signal_start");
  unblock_stop_signals();  // blocked by server_main until libuv's handlers exist
  check(uv_poll_start(&s.listener, UV_READABLE, &Server::on_listener), "uv_poll_start");
  ctx.log(std::string("libuv ") + uv_version_string());

  uv_run(&s.loop, UV_RUN_DEFAULT);
  count_wrapped_syscalls(nullptr);
  if (int r = uv_loop_close(&s.loop); r < 0) ctx.log(std::string("uv_loop_close: ") + uv_strerror(r));
  s.st.extra["write_reqs_made"] = s.reqs_made;
  s.st.extra["uv_writes"] = s.queued_writes;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv,
                                      {.serve = &iomodels::serve,
                                       .extra_options = {{"try-write", 1,
                                                          "1: uv_try_write first, uv_write for the rest (as Node.js "
                                                          "does); 0: every reply batch through uv_write",
                                                          0, 1}},
                                       .owns_signals = true});
}
