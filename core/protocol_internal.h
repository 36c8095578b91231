// Internal to core/: the per-protocol factories behind make_server_session /
// make_client_session, and the one split-input driver the parsers share.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

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

// ---- HTTP token rules shared by the server parser and the reply checker ----

// RFC 9110 §5.6.2 tchar, as a table: one load per byte on the hot path.
inline constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();
inline bool is_tchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }
inline bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

// Field values and reason phrases are VCHAR, SP, HTAB, obs-text: never a
// control byte (CR, LF, NUL...) or DEL. Checked once per header block rather
// than per value: the block's control bytes are counted without a branch (so
// the compiler vectorises the loop; a byte-at-a-time check per value cost the
// reply checker about 40% of its time), and a block is clean exactly when the
// count is two per CRLF it was split at: any other CR, LF or control byte adds one.
// Byte-wide counters (summed every 255 bytes) keep 16 or 32 lanes per vector.
inline size_t count_ctl(std::string_view s) {
  size_t total = 0;
  for (size_t at = 0; at < s.size(); at += 255) {
    size_t end = std::min(s.size(), at + 255);
    uint8_t n = 0;
    for (size_t i = at; i < end; ++i) {
      auto c = static_cast<uint8_t>(s[i]);
      n = static_cast<uint8_t>(n + (((c < 0x20) & (c != '\t')) | (c == 0x7f)));
    }
    total += n;
  }
  return total;
}

// ASCII case-insensitive equality (header names and tokens); only letters fold.
inline bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

// The last header block that parsed, kept by value (no allocation). Peers
// repeat themselves: wrk and the loadgen send one request over and over, and a
// server's replies differ at most in the Date, once a second. So most blocks
// cost one memcmp instead of a parse; a parse is a pure function of the bytes.
template <class Parsed, size_t N>
class LastBlock {
 public:
  const Parsed* find(std::string_view block) const {
    bool same = size_ != 0 && block.size() == size_ && std::memcmp(block.data(), bytes_.data(), size_) == 0;
    return same ? &parsed_ : nullptr;
  }
  void remember(std::string_view block, const Parsed& parsed) {
    if (block.size() > N) return;
    std::memcpy(bytes_.data(), block.data(), block.size());
    size_ = block.size();
    parsed_ = parsed;
  }

 private:
  std::array<char, N> bytes_;
  size_t size_ = 0;
  Parsed parsed_{};
};

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
