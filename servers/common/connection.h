// Connection: the protocol state and buffers of one client, with no syscalls.
//
// A model reads bytes, hands them to on_received(), sends from out(), reports
// what went with on_sent(), and asks wants_read()/wants_write()/finished() to
// decide what to wait for. Back-pressure lives here: while the out-buffer is
// over the cap, wants_read() is false, so a slow reader stops costing memory.
// The cap counts replies as they are produced: input is served in slices, and
// what is left once the replies reach the cap is held back (not read again)
// until the peer has taken enough; one 64 KiB read of pipelined GETs would
// otherwise make half a megabyte of replies at once.
//
// Lingering close: when the protocol says "close" (a 400, an
// oversize frame, Connection: close) the peer may have sent more behind it.
// close(2) with unread bytes sends a RST, and a RST can destroy the reply
// still in flight. So once out() is flushed a model asks linger_due(); if so,
// LingerQueue::start() shuts down the write side (FIN after the reply) and
// the connection keeps reading, discarding, until the peer's EOF, kLingerBytes
// or kLingerNs (LingerQueue::expire, from the model's wait timeout), then it is closed.
#pragma once
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>

#include "core/buffer.h"
#include "core/fd.h"
#include "core/protocol.h"
#include "servers/common/buffer_budget.h"
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
  // Over the server-wide budget (buffer_budget.h) a connection that grew is
  // refused instead: its buffers are dropped and it closes (closing(), then
  // linger_due() like any close the protocol asks for).
  // Inline for the common case (serving, nothing held back, the replies of n
  // bytes cannot pass the cap): one call into the protocol, and the budget's
  // free path; everything else is on_received_rare().
  void on_received(const char* data, size_t n, ServerStats& stats) {
    stats.bytes_in += n;
    if (!closing_ && held_in_.empty() && fits_one_slice(n)) [[likely]] {
      // One slice for the whole read: per read (echo) and per slice agree.
      stats.messages += serve_slice(data, n, stats);
      if (!charge()) refuse_over_budget(stats);
      return;
    }
    on_received_rare(data, n, stats);
  }
  // Models that send from a buffer of their own (io_uring's `wire`, read by
  // the kernel while a send is in flight) report its size after each
  // completion: those bytes count toward the cap, and held-back input is
  // served once there is room again (which may append to out()).
  void set_in_flight(size_t bytes, ServerStats& stats);
  // The peer half-closed (read returned 0): finish what is owed, then close.
  void on_peer_eof() noexcept { peer_eof_ = true; }
  // n bytes of out() were written. Held-back input may be served: out() may grow.
  // Inline: a send only frees memory, so with no input held back, nothing
  // charged to the budget and out() no larger than it keeps when idle, there
  // is nothing to serve, shrink or charge.
  void on_sent(size_t n, ServerStats& stats) {
    stats.bytes_out += n;
    out_.consume(n);
    if (held_in_.empty() && charge_.bytes() == 0 && out_.capacity() <= Buffer::kIdleKeep) [[likely]] return;
    on_sent_rare(stats);
  }

  bool wants_read() const noexcept {
    if (peer_eof_) return false;
    if (lingering_) return discarded_ < kLingerBytes;
    return !closing_ && held_in_.empty() && !over_cap();
  }
  bool wants_write() const noexcept { return !out_.empty(); }
  // Nothing more to do: close the socket now (after linger_due(), see above).
  bool finished() const noexcept {  // the rare flags first: false at once while serving
    return (peer_eof_ || (closing_ && (!lingering_ || discarded_ >= kLingerBytes))) && out_.empty() &&
           held_in_.empty();
  }
  bool closing() const noexcept { return closing_; }

  // The reply owed before a close is out and the peer has not ended: instead
  // of closing, LingerQueue::start() (a model without it simply closes).
  bool linger_due() const noexcept { return closing_ && !lingering_ && !peer_eof_ && out_.empty(); }
  bool lingering() const noexcept { return lingering_; }
  // When a lingering connection is closed regardless (CLOCK_MONOTONIC ns).
  uint64_t linger_deadline_ns() const noexcept { return linger_deadline_ns_; }
  // The model did shutdown(fd, SHUT_WR): from now on reads are discarded.
  void on_linger_started(uint64_t now_ns) noexcept {
    lingering_ = true;
    linger_deadline_ns_ = now_ns + kLingerNs;
  }

  static constexpr size_t kLingerBytes = 64 * 1024;
  static constexpr uint64_t kLingerNs = 1'000'000'000;

  // Scratch space for a model's reads, sized once (no allocation per read).
  static constexpr size_t kReadChunk = 64 * 1024;

 private:
  bool over_cap() const noexcept { return out_.readable_bytes() + in_flight_ >= out_cap_; }
  // Under the cap, n bytes are served in one slice (see serve()).
  bool fits_one_slice(size_t n) const noexcept {
    size_t used = out_.readable_bytes() + in_flight_;
    return used < out_cap_ && (n <= kMinSlice || n <= (out_cap_ - used) / kAmplification);
  }
  // One call into the protocol; returns the messages it answered.
  uint64_t serve_slice(const char* data, size_t n, ServerStats& stats) {
    ServeResult r = session_->on_bytes({data, n}, out_);
    if (r.after != ServeResult::After::kContinue) [[unlikely]] on_close_asked(r.after, stats);
    return r.messages;
  }
  void on_close_asked(ServeResult::After after, ServerStats& stats);
  void on_received_rare(const char* data, size_t n, ServerStats& stats);
  void on_sent_rare(ServerStats& stats);
  // Serve input while under the cap, in slices; returns the bytes consumed.
  size_t serve(const char* data, size_t n, ServerStats& stats);
  void serve_held(ServerStats& stats);
  // Memory this connection holds now, charged to the budget; false: refuse it.
  bool charge() noexcept {
    size_t pending = session_holds_input_ && session_ ? session_->buffered_capacity() : 0;
    return charge_.update(out_.capacity() + held_in_.capacity() + pending + in_flight_);
  }
  void refuse_over_budget(ServerStats& stats);

  // Replies can be several times larger than their requests (an 18-byte GET
  // gets ~100 bytes back), so a slice is a sixteenth of the room left under
  // the cap: the replies of one slice cannot overshoot the cap by much.
  static constexpr size_t kAmplification = 16;
  static constexpr size_t kMinSlice = 512;

  Fd fd_;
  std::unique_ptr<ServerSession> session_;
  Buffer out_;
  size_t out_cap_;
  size_t in_flight_ = 0;  // set_in_flight(): reply bytes a completion model is sending
  Buffer held_in_{0};     // input read but not served yet: its replies would pass the cap
  bool message_per_read_;  // echo: stats.messages counts reads, not the slices serve() makes
  bool peer_eof_ = false;
  bool closing_ = false;  // protocol said close (Connection: close, 400, oversize frame)
  bool lingering_ = false;
  size_t discarded_ = 0;   // bytes read and dropped while lingering
  uint64_t linger_deadline_ns_ = 0;
  BudgetCharge charge_;
  bool session_holds_input_;  // session_->holds_input(), asked once
};

// The reply is flushed and linger_due(): shutdown(fd, SHUT_WR) (counted) and
// on_linger_started. False: the socket is already gone (ENOTCONN...), close
// it now. Models that check each connection anyway (spin, a thread per
// connection) use this and linger_deadline_ns(); the others a LingerQueue.
// `fd`: the socket when a framework owns it (Connection then holds no fd).
bool start_linger(Connection& c, ServerStats& stats, int fd = -1);

// Lingering connections by deadline, oldest first: all linger kLingerNs, so
// arrival order is deadline order. A model keys them by whatever finds the
// connection again (fd, slot). No allocation unless a connection lingers.
class LingerQueue {
 public:
  // start_linger(c), then remember `key` until the deadline. False: close now.
  bool start(Connection& c, uint64_t key, ServerStats& stats, int fd = -1);
  bool empty() const noexcept { return q_.empty(); }
  // A wait timeout: milliseconds until the oldest deadline (rounded up) or
  // `other_ms`, whichever is sooner; -1 (forever) when both are. Reads the
  // clock only while something lingers.
  int timeout_ms(int other_ms = -1) const noexcept;
  // For every deadline passed: find(key) gives the connection now at `key`
  // (or nullptr); if it is the same lingering connection, close(key).
  template <class Find, class Close>
  void expire(uint64_t now_ns, Find&& find, Close&& close) {
    while (!q_.empty() && q_.front().deadline_ns <= now_ns) {
      Entry e = q_.front();
      q_.pop_front();
      const Connection* c = find(e.key);  // closed meanwhile, its key maybe reused: skip
      if (c != nullptr && c->lingering() && c->linger_deadline_ns() == e.deadline_ns) close(e.key);
    }
  }

 private:
  struct Entry {
    uint64_t key;
    uint64_t deadline_ns;
  };
  std::deque<Entry> q_;
};

// errno saved after a failed recv/send on a non-blocking connection, sorted:
// true keeps the connection (EINTR, EAGAIN: retry or wait); false drops it,
// counted as a peer reset (ECONNRESET, EPIPE...) or, logged, as unexpected.
bool keep_after_io_error(int err, const char* call, ServerStats& stats, const ServerContext& ctx);

// A failure that costs one connection only (the contract: one bad connection
// never takes the process down): a per-connection epoll_ctl/event_add that
// failed (ENOSPC past max_user_watches, ENOMEM), or an exception thrown while
// serving it (std::bad_alloc, a failed setsockopt). Logged and counted in
// unexpected_errors; the caller closes that connection.
void count_connection_failure(const char* call, int err, ServerStats& stats, const ServerContext& ctx) noexcept;
void count_connection_failure(const std::exception& e, ServerStats& stats, const ServerContext& ctx) noexcept;

}  // namespace iomodels
