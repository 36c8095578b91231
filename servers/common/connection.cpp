#include "servers/common/connection.h"

#include "core/errno_class.h"
#include "servers/common/server_main.h"

namespace iomodels {

Connection::Connection(Fd fd, std::unique_ptr<ServerSession> session, size_t out_cap)
    : fd_(std::move(fd)), session_(std::move(session)), out_cap_(out_cap) {}

void Connection::on_received(const char* data, size_t n, ServerStats& stats) {
  stats.bytes_in += n;
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
