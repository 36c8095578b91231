// asio — Boost.Asio: one io_context, async_read_some / async_write (epoll underneath)
// What the model is, its syscalls, needs and traps: docs/models.md, section asio.
// One thread runs the io_context, so Asio is built without its locks (as its authors advise).
#define BOOST_ASIO_DISABLE_THREADS 1
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <signal.h>

#include <list>
#include <memory>

#include "core/clock.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/common/wrapped_syscalls.h"

namespace iomodels {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<asio::ip::tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<asio::ip::tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
using Signals = asio::basic_signal_set<Executor>;

// Memory for one operation in flight at a time (a connection has at most one
// read and one write): Asio frees an op before calling its handler, so the
// block is free again when the handler starts the next one.
class HandlerMemory {
 public:
  void* allocate(size_t n) {
    if (!used_ && n <= sizeof block_) {
      used_ = true;
      return block_;
    }
    ++heap_fallbacks;  // an op bigger than the block: still works, counted
    return ::operator new(n);
  }
  void deallocate(void* p) noexcept {
    if (p == block_) used_ = false;
    else ::operator delete(p);
  }
  static inline uint64_t heap_fallbacks = 0;

 private:
  alignas(std::max_align_t) unsigned char block_[512];
  bool used_ = false;
};

template <typename T>
struct HandlerAllocator {
  using value_type = T;
  HandlerMemory* mem;
  explicit HandlerAllocator(HandlerMemory& m) noexcept : mem(&m) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& o) noexcept : mem(o.mem) {}
  T* allocate(size_t n) { return static_cast<T*>(mem->allocate(n * sizeof(T))); }
  void deallocate(T* p, size_t) noexcept { mem->deallocate(p); }
  template <typename U>
  bool operator==(const HandlerAllocator<U>& o) const noexcept { return mem == o.mem; }
};

// A completion handler whose operation lives in `mem` (Asio asks get_allocator()).
template <typename F>
struct InMemory {
  HandlerMemory* mem;
  F f;
  using allocator_type = HandlerAllocator<char>;
  allocator_type get_allocator() const noexcept { return allocator_type(*mem); }
  template <typename... Args>
  void operator()(Args&&... args) { f(std::forward<Args>(args)...); }
};
template <typename F>
InMemory<F> in_memory(HandlerMemory& m, F f) { return {&m, std::move(f)}; }

struct Conn {
  Conn(Socket s, std::unique_ptr<ServerSession> session, size_t cap)
      : sock(std::move(s)), c(Fd(), std::move(session), cap) {}  // the socket owns the fd
  Socket sock;
  Connection c;
  Buffer wire{0};  // what the write in flight points at (swapped with c.out(): no memory of its own)
  std::unique_ptr<char[]> in{new char[Connection::kReadChunk]};
  HandlerMemory read_mem, write_mem;
  bool reading = false, writing = false, closed = false;
  std::list<Conn>::iterator self;
};

struct Server {
  ServerContext& ctx;
  ServerStats& st;
  asio::io_context io{1};
  Acceptor acceptor{io};
  Timer backoff{io};
  Timer linger_timer{io};  // the oldest lingering connection's deadline
  LingerQueue lingers;     // refused connections draining before close, by Conn*
  bool linger_armed = false;
  Signals signals{io, SIGTERM, SIGINT};
  HandlerMemory accept_mem;
  std::list<Conn> conns;
  SpareFd spare;
  bool stopping = false;

  bool can_read(Conn& k) const {
    return k.c.wants_read() && k.c.out().readable_bytes() + k.wire.readable_bytes() < ctx.opt.out_buffer_cap;
  }

  void start_accept() {
    acceptor.async_accept(in_memory(accept_mem, [this](error_code ec, Socket s) {
      try {
        on_accept(ec, std::move(s));
      } catch (const std::exception& e) {  // e.g. bad_alloc for the Conn: that peer only (s closes)
        dropped(e);
        start_accept();
      }
    }));
  }

  void on_accept(error_code ec, Socket s) {
    ++st.events;
    if (stopping) return;
    if (ec) {
      switch (on_accept_failure(ec.value(), acceptor.native_handle(), spare, st, ctx)) {
        case AcceptFailure::kRetry:
        case AcceptFailure::kShed: return start_accept();
        default:  // out of fds with nothing to shed, or unexpected: an instant retry would spin
          count_accept_pause(st);
          backoff.expires_after(std::chrono::milliseconds(10));
          return backoff.async_wait([this](error_code e) {
            ++st.events;
            if (!e && !stopping) start_accept();
          });
      }
    }
    ++st.accepted;
    if (conns.size() >= ctx.opt.max_connections) {
      ++st.rejected;
      st.count(Syscall::kClose);
      s.close(ec);
    } else {
      s.set_option(asio::ip::tcp::no_delay(true), ec);
      Conn& k = conns.emplace_front(std::move(s), ctx.new_session(), ctx.opt.out_buffer_cap);
      k.self = conns.begin();
      start_read(k);
    }
    start_accept();
  }

  void start_read(Conn& k) {
    k.reading = true;
    k.sock.async_read_some(asio::buffer(k.in.get(), Connection::kReadChunk),
                           in_memory(k.read_mem, [this, &k](error_code ec, size_t n) { guard(k, [&] { on_read(k, ec, n); }); }));
  }

  void start_write(Conn& k) {
    std::swap(k.wire, k.c.out());  // out gets wire's spare storage: no allocation
    k.writing = true;
    asio::async_write(k.sock, asio::buffer(k.wire.peek(), k.wire.readable_bytes()),
                      in_memory(k.write_mem, [this, &k](error_code ec, size_t n) { guard(k, [&] { on_written(k, ec, n); }); }));
  }

  void on_read(Conn& k, error_code ec, size_t n) {
    ++st.events;
    k.reading = false;
    if (k.closed) return retire(k);
    if (!ec) k.c.on_received(k.in.get(), n, st);
    else if (ec == asio::error::eof) k.c.on_peer_eof();
    else if (!failed_keeps(ec, "recv")) return close(k);
    progress(k);
  }

  void on_written(Conn& k, error_code ec, size_t n) {
    ++st.events;
    k.writing = false;
    st.bytes_out += n;
    k.wire.clear();
    k.wire.shrink_if_idle();  // a sent 1 MiB reply is not kept (the buffer budget cannot see wire)
    if (k.closed) return retire(k);
    if (ec && !failed_keeps(ec, "send")) return close(k);
    progress(k);
  }

  // A failure while serving one connection (bad_alloc in the protocol...) closes
  // that connection; it never leaves io.run() and stops the server.
  template <typename F>
  void guard(Conn& k, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      dropped(e);
      close(k);
    }
  }
  void dropped(const std::exception& e) {
    ++st.unexpected_errors;
    ctx.log(std::string("connection dropped: ") + e.what());
  }

  // Asio retries EINTR and waits out EAGAIN itself: what reaches us is final.
  bool failed_keeps(error_code ec, const char* call) {
    if (ec.category() != boost::system::system_category()) {
      ++st.unexpected_errors;
      ctx.log(std::string(call) + ": " + ec.message());
      return false;
    }
    return keep_after_io_error(ec.value(), call, st, ctx);
  }

  // After every completion: start what the connection now wants, or close it.
  void progress(Conn& k) {
    k.c.set_in_flight(k.wire.readable_bytes(), st);  // counts toward the cap; may serve held input
    if (!k.writing && k.c.wants_write()) start_write(k);
    if (!k.reading && can_read(k)) start_read(k);
    if (!k.writing && k.c.linger_due()) {  // reply out: FIN now, close at EOF or deadline
      if (!lingers.start(k.c, reinterpret_cast<uint64_t>(&k), st, k.sock.native_handle())) return close(k);
      arm_linger_timer();
      if (!k.reading) start_read(k);
    }
    if (!k.writing && k.c.finished()) close(k);
  }

  void arm_linger_timer() {
    if (linger_armed || lingers.empty() || stopping) return;
    linger_armed = true;
    linger_timer.expires_after(std::chrono::milliseconds(lingers.timeout_ms()));
    linger_timer.async_wait([this](error_code e) {
      ++st.events;
      linger_armed = false;
      if (e || stopping) return;
      // Rare (a refusal a second old): a scan of the list for the Conn is fine.
      auto find = [&](uint64_t key) -> Connection* {
        for (Conn& k : conns)
          if (reinterpret_cast<uint64_t>(&k) == key) return &k.c;
        return nullptr;
      };
      lingers.expire(now_ns(), find, [&](uint64_t key) { close(*reinterpret_cast<Conn*>(key)); });
      arm_linger_timer();
    });
  }

  // Closing cancels what is in flight; the Conn goes when both handlers have run.
  void close(Conn& k) {
    if (!k.closed) {
      k.closed = true;
      error_code ignored;
      k.sock.close(ignored);
      st.count(Syscall::kClose);
      ++st.closed;
    }
    retire(k);
  }
  void retire(Conn& k) {
    if (k.closed && !k.reading && !k.writing) conns.erase(k.self);
  }

  // No io.stop(): everything is closed or cancelled, so run() returns once the
  // cancelled handlers have run and nothing in flight points into a Conn.
  void stop() {
    stopping = true;
    ctx.request_stop();
    error_code ignored;
    acceptor.close(ignored);
    backoff.cancel();
    linger_timer.cancel();
    signals.cancel(ignored);
    for (auto it = conns.begin(); it != conns.end();) close(*it++);
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());  // the spare-fd shed must never block
  count_wrapped_syscalls(&ctx.stats);
  Server s{ctx, ctx.stats};
  // The listener is whichever family --bind named (IPv4 or IPv6).
  auto family = socket_family(ctx.listener.get()) == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4();
  s.acceptor.assign(family, ctx.listener.release());
  s.signals.async_wait([&s](error_code ec, int) {
    ++s.st.events;
    if (!ec) s.stop();
  });
  unblock_stop_signals();  // blocked by server_main until the signal_set exists
  s.start_accept();
  s.io.run();
  count_wrapped_syscalls(nullptr);
  if (HandlerMemory::heap_fallbacks) s.st.extra["handler_heap_allocations"] = HandlerMemory::heap_fallbacks;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(argc, argv,
                                      {.serve = &iomodels::serve,
                                       .owns_signals = true});
}
