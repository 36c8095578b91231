#include "servers/common/connection.h"

#include <sys/socket.h>

#include <algorithm>

#include "core/clock.h"
#include "core/errno_class.h"
#include "servers/common/server_main.h"

namespace iomodels {

Connection::Connection(Fd fd, std::unique_ptr<ServerSession> session, size_t out_cap)
    : fd_(std::move(fd)),
      session_(std::move(session)),
      out_cap_(out_cap),
      message_per_read_(session_ && session_->message_per_read()),
      session_holds_input_(session_ == nullptr || session_->holds_input()) {}

void Connection::on_received_rare(const char* data, size_t n, ServerStats& stats) {
  if (lingering_) {  // after a refusal: read only so that close(2) sends no RST
    discarded_ += n;
    return;
  }
  // Once the protocol said "close", anything more the peer sends is ignored:
  // the reply owed (a 400, or the answer to "Connection: close") goes out first.
  if (closing_) return;
  stats.messages += message_per_read_ && n > 0;
  if (!held_in_.empty()) {
    held_in_.append(data, n);  // after what waits already, in order
  } else {
    size_t used = serve(data, n, stats);
    if (used < n && !closing_) held_in_.append(data + used, n - used);
  }
  if (!charge()) refuse_over_budget(stats);
}

void Connection::refuse_over_budget(ServerStats& stats) {
  ++stats.extra["buffer_budget_refusals"];
  closing_ = true;
  out_ = Buffer(0);  // the memory goes back now, not when the model closes
  held_in_ = Buffer(0);
  session_.reset();  // its staged frame too; nothing calls it once closing_
  charge_.release();
}

void Connection::on_close_asked(ServeResult::After after, ServerStats& stats) {
  closing_ = true;
  if (after == ServeResult::After::kProtocolError) ++stats.protocol_errors;
}

size_t Connection::serve(const char* data, size_t n, ServerStats& stats) {
  size_t used = 0;
  while (used < n && !closing_ && !over_cap()) {
    size_t room = out_cap_ - out_.readable_bytes() - in_flight_;
    size_t slice = std::min(n - used, std::max(kMinSlice, room / kAmplification));
    const uint64_t messages = serve_slice(data + used, slice, stats);
    if (!message_per_read_) stats.messages += messages;  // echo counted its read in on_received_rare
    used += slice;
  }
  return closing_ ? n : used;  // after "close", the rest is ignored
}

void Connection::serve_held(ServerStats& stats) {
  if (held_in_.empty() || over_cap()) return;
  held_in_.consume(serve(held_in_.peek(), held_in_.readable_bytes(), stats));
  if (closing_) held_in_.clear();
  held_in_.shrink_if_idle(0);
}

// Sends and completions only move bytes the budget already counts (held
// input into replies): they update the charge but never refuse.
void Connection::set_in_flight(size_t bytes, ServerStats& stats) {
  in_flight_ = bytes;
  serve_held(stats);
  charge();
}

void Connection::on_sent_rare(ServerStats& stats) {
  serve_held(stats);
  out_.shrink_if_idle();  // an idle connection does not keep the memory of one big reply
  charge();
}

bool start_linger(Connection& c, ServerStats& stats, int fd) {
  stats.count(Syscall::kShutdown);
  if (::shutdown(fd >= 0 ? fd : c.fd(), SHUT_WR) != 0) return false;
  c.on_linger_started(now_ns());
  return true;
}

bool LingerQueue::start(Connection& c, uint64_t key, ServerStats& stats, int fd) {
  if (!start_linger(c, stats, fd)) return false;
  q_.push_back({key, c.linger_deadline_ns()});
  return true;
}

int LingerQueue::timeout_ms(int other_ms) const noexcept {
  if (q_.empty()) return other_ms;
  uint64_t at = q_.front().deadline_ns, now = now_ns();
  int ms = at <= now ? 0 : static_cast<int>((at - now + 999'999) / 1'000'000);
  return other_ms < 0 ? ms : std::min(ms, other_ms);
}

bool keep_after_io_error(int err, const char* call, ServerStats& stats, const ServerContext& ctx) {
  switch (classify_errno(err)) {
    case ErrnoClass::kInterrupted:
    case ErrnoClass::kWouldBlock:
      return true;
    case ErrnoClass::kPeerGone:
      ++stats.peer_resets;
      return false;
    default:
      count_connection_failure(call, err, stats, ctx);
      return false;
  }
}

void count_connection_failure(const char* call, int err, ServerStats& stats, const ServerContext& ctx) noexcept {
  ++stats.unexpected_errors;
  try {
    ctx.log(describe_errno(call, err));
  } catch (...) {  // out of memory for the message: the count is what matters
  }
}

void count_connection_failure(const std::exception& e, ServerStats& stats, const ServerContext& ctx) noexcept {
  ++stats.unexpected_errors;
  try {
    ctx.log(std::string("connection closed after an exception: ") + e.what());
  } catch (...) {
  }
}

}  // namespace iomodels
