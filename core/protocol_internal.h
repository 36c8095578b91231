// Internal to core/: the per-protocol factories behind make_server_session /
// make_client_session, and the one split-input driver the parsers share.
#pragma once
#include <memory>
#include <span>

#include "core/buffer.h"
#include "core/protocol.h"

namespace iomodels::detail {

std::unique_ptr<ServerSession> make_echo_server();
std::unique_ptr<ServerSession> make_framed_server(const ProtocolLimits& limits);
std::unique_ptr<ServerSession> make_http_server(const ProtocolLimits& limits);

// Echo and framed replies are the requests byte for byte, so one client checks
// both; framed just owes a 4-byte header in front of each payload.
std::unique_ptr<ClientSession> make_stream_client(uint64_t conn_id, bool framed);
std::unique_ptr<ClientSession> make_http_client();

// Feeds `in` to step(data, size) -> bytes consumed, where step consumes every
// complete unit from the front and leaves an incomplete tail. The common case
// (no tail from last time) parses the caller's bytes in place; only a tail is
// copied into `pending`, and later input is appended behind it.
template <class Step>
void feed_with_tail(std::span<const char> in, Buffer& pending, Step&& step) {
  if (pending.empty()) {
    size_t used = step(in.data(), in.size());
    if (used < in.size()) pending.append(in.data() + used, in.size() - used);
    return;
  }
  pending.append(in.data(), in.size());
  pending.consume(step(pending.peek(), pending.readable_bytes()));
  pending.shrink_if_idle();
}

}  // namespace iomodels::detail
