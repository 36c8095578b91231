#include "servers/common/connection.h"

#include <sys/socket.h>

#include <algorithm>

#include "core/clock.h"
#include "core/errno_class.h"
#include "servers/common/server_main.h"

namespace iomodels {

Connection::Connection(Fd fd, std::unique_ptr<ServerSession> session, size_t out_cap)
    : fd_(std::move(fd)), session_(std::move(session)), out_cap_(out_cap) {}

void Connection::on_received(const char* data, size_t n, ServerStats& stats) {
  stats.bytes_in += n;
  if (lingering_) {  // after a refusal: read only so that close(2) sends no RST
    discarded_ += n;
    return;
  }
  // Once the protocol said "close", anything more the peer sends is ignored:
  // the reply owed (a 400, or the answer to "Connection: close") goes out first.
  if (closing_) return;
  ServeResult r = session_->on_bytes({data, n}, out_);
  stats.messages += r.messages;
  switch (r.after) {
    case ServeResult::After::kContinue:
      break;
    case ServeResult::After::kCloseAfterSend:
      closing_ = true;
      break;
    case ServeResult::After::kProtocolError:
      closing_ = true;
      ++stats.protocol_errors;
      break;
  }
}

void Connection::on_sent(size_t n, ServerStats& stats) noexcept {
  stats.bytes_out += n;
  out_.consume(n);
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
      ++stats.unexpected_errors;
      ctx.log(describe_errno(call, err));
      return false;
  }
}

}  // namespace iomodels
