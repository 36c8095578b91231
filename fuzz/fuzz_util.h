// Shared by the fuzz targets: cutting one input into the pieces a socket
// might deliver, and a check that aborts (so libFuzzer records a crash) with
// a message saying which property broke.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace iomodels::fuzz {

[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz property broken: %s\n", what);
  std::abort();
}
inline void require(bool ok, const char* what) {
  if (!ok) fail(what);
}

// The first byte of the input picks how the rest is cut: 0 = whole, else
// pieces of 1..byte bytes from a generator seeded by the byte. So the fuzzer
// mutates the split and the content together, and every input is reproducible.
struct Pieces {
  uint8_t mode = 0;
  std::string_view data;
  std::vector<std::string_view> pieces;
};

inline Pieces cut(const uint8_t* p, size_t n) {
  Pieces out;
  if (n == 0) return out;
  out.mode = p[0];
  out.data = {reinterpret_cast<const char*>(p + 1), n - 1};
  uint64_t state = out.mode * 0x9E3779B97F4A7C15ull + 1;
  for (size_t at = 0; at < out.data.size();) {
    size_t len = out.data.size() - at;
    if (out.mode != 0) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      len = std::min<size_t>(len, 1 + state % out.mode);
    }
    out.pieces.push_back(out.data.substr(at, len));
    at += len;
  }
  return out;
}

// Replies carry a Date that can change between two runs of the same input:
// blank its value (IMF-fixdate is always 29 bytes) so that outputs compare.
inline std::string without_dates(std::string s) {
  constexpr std::string_view kDate = "\r\nDate: ";
  for (size_t at = s.find(kDate); at != std::string::npos; at = s.find(kDate, at + 1)) {
    size_t from = at + kDate.size();
    for (size_t i = from; i < from + 29 && i < s.size(); ++i) s[i] = '#';
  }
  return s;
}

}  // namespace iomodels::fuzz
