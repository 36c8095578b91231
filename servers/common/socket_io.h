// SocketIo: what a non-blocking socket model does with a connection once its
// own wait (select, poll, epoll_wait, a signal, a libevent callback) said the
// connection is ready: a recv into a scratch buffer, sends until the
// out-buffer is empty or the socket is full, the queue of lingering closes,
// and the close's accounting. No wait, registration or completion call lives
// here: those stay in each model, because they are what the models are
// compared by; so does the order of a turn (read once or drain, then send,
// then linger or close), which is the model's policy.
//
// Inline, so that the hot path compiles as each model's own copy did
// (callgrind instructions per message unchanged: a serve_ready() taking the
// readiness as bools cost 2-4 instructions a message more, and a send result
// as an enum 1 more, so there are neither).
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdint>
#include <memory>

#include "core/errno_class.h"
#include "servers/common/connection.h"
#include "servers/common/server_stats.h"

namespace iomodels {

class ServerContext;

// Stats: ServerStats& where the loop's stats are the server's (SocketIo),
// ServerStats where the loop owns its own (a reactor among several): held by
// value, they cost the hot path no load of a reference.
template <class Stats>
struct BasicSocketIo {
  ServerContext& ctx;
  Stats st;
  LingerQueue lingers{};  // refused connections draining before close, keyed by the model
  std::unique_ptr<char[]> scratch{new char[Connection::kReadChunk]};

  // One recv(2) of up to Connection::kReadChunk bytes, handed to the
  // connection: bytes to on_received(), 0 (the peer's FIN) to on_peer_eof().
  // Returns what recv returned; below 0, errno is recv's. For models that
  // read until a short read or EAGAIN (edge-triggered, signal-driven).
  ssize_t recv_into(Connection& c, int fd) {
    st.count(Syscall::kRecv);
    ssize_t n = ::recv(fd, scratch.get(), Connection::kReadChunk, 0);
    if (n > 0) c.on_received(scratch.get(), size_t(n), st);
    else if (n == 0) c.on_peer_eof();
    return n;
  }
  ssize_t recv_into(Connection& c) { return recv_into(c, c.fd()); }

  // The same recv for a model that reads once per wakeup (level-triggered:
  // the wait reports what is left, so one busy connection cannot starve the
  // rest). false: drop the connection.
  bool recv_once(Connection& c) {
    st.count(Syscall::kRecv);
    ssize_t n = ::recv(c.fd(), scratch.get(), Connection::kReadChunk, 0);
    if (n > 0) { c.on_received(scratch.get(), size_t(n), st); return true; }
    if (n == 0) { c.on_peer_eof(); return true; }
    return keep(errno, "recv");
  }

  // false: drop the connection. A saved errno sorted: retry or wait (EINTR,
  // EAGAIN), or counted as a peer reset or, logged, as unexpected.
  bool keep(int err, const char* call) { return keep_after_io_error(err, call, st, ctx); }

  // send(2) until out() is empty or the socket is full; full, out() is left
  // non-empty (c.wants_write()) and the model waits for writability.
  // false: drop the connection.
  bool flush(Connection& c) {
    while (c.wants_write()) {
      st.count(Syscall::kSend);
      ssize_t n = ::send(c.fd(), c.out().peek(), c.out().readable_bytes(), MSG_NOSIGNAL);
      if (n >= 0) { c.on_sent(size_t(n), st); continue; }
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) return true;
      if (!keep(err, "send")) return false;
    }
    return true;
  }

  // A connection the model closed (its Fd, or close(2)).
  void count_close() {
    st.count(Syscall::kClose);
    ++st.closed;
  }
};
using SocketIo = BasicSocketIo<ServerStats&>;

}  // namespace iomodels
