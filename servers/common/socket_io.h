// SocketIo: what a non-blocking socket model does with a connection once its
// own wait (select, poll, epoll_wait, a signal, a libevent callback) said the
// connection is ready: one recv into a scratch buffer, sends until the
// out-buffer is empty or the socket is full, the lingering close, and the
// close's accounting. No wait, registration or completion call lives here:
// those stay in each model, because they are what the models are compared by.
//
// Inline, so that the hot path compiles as each model's own copy did
// (callgrind instructions per message unchanged).
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

enum class SendResult : uint8_t {
  kFlushed,     // out() is empty
  kWouldBlock,  // the socket is full: wait for writability
  kDrop,        // an error that costs the connection (counted): close it
};

struct SocketIo {
  ServerContext& ctx;
  ServerStats& st;
  LingerQueue lingers{};  // refused connections draining before close, keyed by the model
  std::unique_ptr<char[]> scratch{new char[Connection::kReadChunk]};

  // One recv(2) of up to Connection::kReadChunk bytes, handed to the
  // connection: bytes to on_received(), 0 (the peer's FIN) to on_peer_eof().
  // Returns what recv returned; below 0, errno is recv's.
  ssize_t recv_into(Connection& c, int fd) {
    st.count(Syscall::kRecv);
    ssize_t n = ::recv(fd, scratch.get(), Connection::kReadChunk, 0);
    if (n > 0) c.on_received(scratch.get(), size_t(n), st);
    else if (n == 0) c.on_peer_eof();
    return n;
  }
  ssize_t recv_into(Connection& c) { return recv_into(c, c.fd()); }

  // false: drop the connection. A saved errno sorted: retry or wait (EINTR,
  // EAGAIN), or counted as a peer reset or, logged, as unexpected.
  bool keep(int err, const char* call) { return keep_after_io_error(err, call, st, ctx); }

  // send(2) until out() is empty or the socket is full.
  SendResult send_pending(Connection& c) {
    while (c.wants_write()) {
      st.count(Syscall::kSend);
      ssize_t n = ::send(c.fd(), c.out().peek(), c.out().readable_bytes(), MSG_NOSIGNAL);
      if (n >= 0) { c.on_sent(size_t(n), st); continue; }
      int err = errno;
      if (classify_errno(err) == ErrnoClass::kWouldBlock) return SendResult::kWouldBlock;
      if (!keep(err, "send")) return SendResult::kDrop;
    }
    return SendResult::kFlushed;
  }

  // One turn of a level-triggered model for a connection its wait reported.
  // `read`: readable and read interest was on; one recv only, since the wait
  // reports what is left, which keeps one busy connection from starving the
  // rest. Then what is pending is sent, whether or not `writable` was
  // reported (tried at once: usually it all fits). Then, once a refusal's
  // reply is out, the lingering close starts (FIN now, close at the peer's
  // EOF or the deadline). false: close the connection now.
  bool serve_ready(Connection& c, bool read, bool writable, uint64_t linger_key) {
    bool ok = !read || recv_into(c) >= 0 || keep(errno, "recv");
    if (ok && (writable || c.wants_write())) ok = send_pending(c) != SendResult::kDrop;
    if (ok && c.linger_due()) ok = lingers.start(c, linger_key, st);
    return ok && !c.finished();
  }

  // A connection the model closed (its Fd, or close(2)).
  void count_close() {
    st.count(Syscall::kClose);
    ++st.closed;
  }
};

}  // namespace iomodels
