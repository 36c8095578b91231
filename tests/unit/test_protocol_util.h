// Helpers for the protocol tests: feed a session its input whole, byte by
// byte, or in random splits (fixed seeds), and collect what it answered.
#pragma once
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/protocol.h"

namespace iomodels::test {

enum class Split { kWhole, kBytes, kRandom };
inline const char* split_name(Split s) {
  return s == Split::kWhole ? "whole" : s == Split::kBytes ? "bytes" : "random";
}
inline constexpr Split kAllSplits[] = {Split::kWhole, Split::kBytes, Split::kRandom};

// Chunk sizes that cover `total` bytes.
inline std::vector<size_t> chunks(size_t total, Split s, unsigned seed = 42) {
  std::vector<size_t> out;
  std::mt19937 rng(seed);
  size_t done = 0;
  while (done < total) {
    size_t n = total - done;
    if (s == Split::kBytes) n = 1;
    if (s == Split::kRandom) n = std::min(n, std::uniform_int_distribution<size_t>(1, 97)(rng));
    out.push_back(n);
    done += n;
  }
  return out;
}

struct ServeOutcome {
  std::string out;
  uint64_t messages = 0;
  ServeResult::After after = ServeResult::After::kContinue;
  size_t calls = 0;  // on_bytes calls with data
};

inline ServeOutcome serve(ServerSession& s, std::string_view in, Split split, unsigned seed = 42) {
  ServeOutcome o;
  Buffer out;
  size_t at = 0;
  for (size_t n : chunks(in.size(), split, seed)) {
    ServeResult r = s.on_bytes({in.data() + at, n}, out);
    at += n;
    ++o.calls;
    o.messages += r.messages;
    o.after = r.after;
  }
  o.out.assign(out.view());
  return o;
}

inline ReplyResult& operator+=(ReplyResult& a, const ReplyResult& b) {
  a.completed += b.completed;
  a.mismatches += b.mismatches;
  a.http_status += b.http_status;
  a.fatal = a.fatal || b.fatal;
  return a;
}

inline ReplyResult check(ClientSession& c, std::string_view in, Split split, unsigned seed = 7) {
  ReplyResult total;
  size_t at = 0;
  for (size_t n : chunks(in.size(), split, seed)) {
    total += c.on_bytes({in.data() + at, n});
    at += n;
  }
  return total;
}

}  // namespace iomodels::test
