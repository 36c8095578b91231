// The three wire protocols (docs/design.md, "Protocols"), sans-I/O: bytes in, bytes out, no
// sockets. Servers use a ServerSession per connection to answer; the loadgen
// uses a ClientSession per connection to build requests and check replies.
// The same code is unit-tested byte by byte and fuzzed.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/buffer.h"

namespace iomodels {

enum class Protocol { kEcho, kFramed, kHttp };

// "echo" | "framed" | "http"; nullopt for anything else.
std::optional<Protocol> parse_protocol(std::string_view name);
const char* protocol_name(Protocol p);

struct ProtocolLimits {
  size_t max_frame = 1 << 20;          // framed: larger length → protocol error
  size_t max_http_header = 8 * 1024;   // http: larger header block → 400 + close
};

constexpr size_t kFrameHeaderBytes = 4;  // framed: u32 length, network byte order

// ---- server side ----------------------------------------------------------

struct ServeResult {
  enum class After {
    kContinue,       // keep reading
    kCloseAfterSend, // reply owed (e.g. Connection: close, or a 400): flush `out`, then close
    kProtocolError,  // malformed input: count it, close now (out may hold a 400 to flush first)
  };
  After after = After::kContinue;
  uint64_t messages = 0;  // complete requests answered by this call
};

class ServerSession {
 public:
  virtual ~ServerSession() = default;
  // Feed bytes as they arrived (any split). Replies are appended to `out`.
  // After kCloseAfterSend or kProtocolError, further input is ignored.
  virtual ServeResult on_bytes(std::span<const char> in, Buffer& out) = 0;
  // Bytes held back waiting for the rest of a message (framed store-and-forward).
  virtual size_t pending_bytes() const { return 0; }
  // Memory held for them (the staging buffer's capacity): what the server's
  // buffer budget charges (servers/common/buffer_budget.h).
  virtual size_t buffered_capacity() const { return pending_bytes(); }
  // Echo has no framing: a "message" is what one read delivered. A caller
  // that feeds one read in several on_bytes calls (slices) then counts one
  // message per read itself and ignores ServeResult::messages.
  virtual bool message_per_read() const noexcept { return false; }
  // False: this protocol never holds input back (echo), so a server need not
  // ask buffered_capacity() after every message.
  virtual bool holds_input() const noexcept { return true; }
};

std::unique_ptr<ServerSession> make_server_session(Protocol p, const ProtocolLimits& limits);

// ---- client side (loadgen) -----------------------------------------------

struct ReplyResult {
  // Every reply that ended in this call, good or bad (so the caller can pop its
  // send times in order); mismatches and http_status are subsets of it.
  uint64_t completed = 0;
  uint64_t mismatches = 0;  // replies whose bytes differ from what was expected
  uint64_t http_status = 0; // http replies with a status other than 200
  bool fatal = false;       // stream unrecoverable (unparseable): close the connection
};

// How one completed reply ended, for a caller that must tell which replies of
// a call were good (the loadgen keeps bad ones out of its latencies).
enum class ReplyOutcome : uint8_t { kOk, kMismatch, kHttpStatus };

class ClientSession {
 public:
  virtual ~ClientSession() = default;
  // Append request number `seq` (payload `size` bytes; framed adds its header,
  // http ignores size and sends a fixed GET) to `out`, and remember that its
  // reply is owed. Requests must be answered in the order they were made.
  virtual void build_request(uint64_t seq, size_t size, Buffer& out) = 0;
  // Feed reply bytes as they arrived (any split); every byte is checked.
  virtual ReplyResult on_bytes(std::span<const char> in) = 0;
  virtual size_t outstanding() const = 0;

  // Optional: on_bytes appends one outcome per completed reply, in order, to
  // `log` (the caller clears it; nullptr: not kept). A reused vector, so the
  // request path allocates nothing once it has grown.
  void set_outcome_log(std::vector<ReplyOutcome>* log) noexcept { outcome_log_ = log; }

 protected:
  void note(ReplyOutcome o) {
    if (outcome_log_) outcome_log_->push_back(o);
  }

 private:
  std::vector<ReplyOutcome>* outcome_log_ = nullptr;
};

// conn_id seeds the payload so that replies crossing connections are caught.
std::unique_ptr<ClientSession> make_client_session(Protocol p, uint64_t conn_id);

// The one fixed http request the loadgen sends and the body every reply carries.
std::string_view http_request_bytes();
constexpr std::string_view kHttpBody = "Hello, World!";

}  // namespace iomodels
