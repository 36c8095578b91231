#include "core/protocol.h"

#include "core/protocol_internal.h"

namespace iomodels {

std::optional<Protocol> parse_protocol(std::string_view name) {
  if (name == "echo") return Protocol::kEcho;
  if (name == "framed") return Protocol::kFramed;
  if (name == "http") return Protocol::kHttp;
  return std::nullopt;
}

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::kEcho: return "echo";
    case Protocol::kFramed: return "framed";
    case Protocol::kHttp: return "http";
  }
  return "unknown";
}

std::unique_ptr<ServerSession> make_server_session(Protocol p, const ProtocolLimits& limits) {
  switch (p) {
    case Protocol::kEcho: return detail::make_echo_server();
    case Protocol::kFramed: return detail::make_framed_server(limits);
    case Protocol::kHttp: return detail::make_http_server(limits);
  }
  return nullptr;
}

std::unique_ptr<ClientSession> make_client_session(Protocol p, uint64_t conn_id) {
  switch (p) {
    case Protocol::kEcho: return detail::make_stream_client(conn_id, false);
    case Protocol::kFramed: return detail::make_stream_client(conn_id, true);
    case Protocol::kHttp: return detail::make_http_client();
  }
  return nullptr;
}

std::string_view http_request_bytes() {
  return "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

}  // namespace iomodels
