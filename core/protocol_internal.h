// Internal to core/: the per-protocol factories behind make_server_session /
// make_client_session, and the one split-input driver the parsers share.
#pragma once
#include <algorithm>
#include <array>
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

// Field values and reason phrases: VCHAR, SP, HTAB, obs-text; never a control
// byte (CR, LF, NUL...) or DEL.
inline bool is_field_text(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

// ASCII case-insensitive equality (header names and tokens); only letters fold.
inline bool iequals(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

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
