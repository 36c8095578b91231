// Connection: the protocol state and buffers of one client, with no syscalls.
//
// A model reads bytes, hands them to on_received(), sends from out(), reports
// what went with on_sent(), and asks wants_read()/wants_write()/finished() to
// decide what to wait for. Back-pressure lives here: while the out-buffer is
// over the cap, wants_read() is false, so a slow reader stops costing memory.
#pragma once
#include <memory>

#include "core/buffer.h"
#include "core/fd.h"
#include "core/protocol.h"
#include "servers/common/server_stats.h"

namespace iomodels {

class ServerContext;

class Connection {
 public:
  Connection(Fd fd, std::unique_ptr<ServerSession> session, size_t out_cap);

  int fd() const noexcept { return fd_.get(); }
  Fd& owned_fd() noexcept { return fd_; }
  Buffer& out() noexcept { return out_; }

  // Bytes just read from the peer: run the protocol, append replies to out().
  void on_received(const char* data, size_t n, ServerStats& stats);
  // The peer half-closed (read returned 0): finish what is owed, then close.
  void on_peer_eof() noexcept { peer_eof_ = true; }
  // n bytes of out() were written.
  void on_sent(size_t n, ServerStats& stats) noexcept;

  bool wants_read() const noexcept {
    return !peer_eof_ && !closing_ && out_.readable_bytes() < out_cap_;
  }
  bool wants_write() const noexcept { return !out_.empty(); }
  // Nothing more to do: close the socket now.
  bool finished() const noexcept { return out_.empty() && (peer_eof_ || closing_); }
  bool closing() const noexcept { return closing_; }

  // Scratch space for a model's reads, sized once (no allocation per read).
  static constexpr size_t kReadChunk = 64 * 1024;

 private:
  Fd fd_;
  std::unique_ptr<ServerSession> session_;
  Buffer out_;
  size_t out_cap_;
  bool peer_eof_ = false;
  bool closing_ = false;  // protocol said close (Connection: close, 400, oversize frame)
};

// errno saved after a failed recv/send on a non-blocking connection, sorted:
// true keeps the connection (EINTR, EAGAIN: retry or wait); false drops it,
// counted as a peer reset (ECONNRESET, EPIPE...) or, logged, as unexpected.
bool keep_after_io_error(int err, const char* call, ServerStats& stats, const ServerContext& ctx);

}  // namespace iomodels
