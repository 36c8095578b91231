#include "core/payload.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace iomodels {
namespace {

// The pattern is stored twice over so that any run of up to kPeriod bytes
// starting inside the first copy is contiguous: one memcpy/memcmp per chunk.
constexpr size_t kPeriod = 8192;
constexpr size_t kHeaderBytes = 16;
constexpr uint64_t kConnXor = 0x9e3779b97f4a7c15ull;
constexpr uint64_t kSeqXor = 0xc2b2ae3d27d4eb4full;

constexpr uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr std::array<char, 2 * kPeriod> make_pattern() {
  std::array<char, 2 * kPeriod> p{};
  uint64_t state = 0x5eed;
  for (size_t i = 0; i < kPeriod; i += 8) {
    uint64_t r = splitmix64(state);
    for (size_t b = 0; b < 8; ++b) p[i + b] = static_cast<char>((r >> (8 * b)) & 0xff);
  }
  for (size_t i = 0; i < kPeriod; ++i) p[kPeriod + i] = p[i];
  return p;
}

constexpr std::array<char, 2 * kPeriod> kPattern = make_pattern();

size_t seed_of(uint64_t conn_id, uint64_t seq) noexcept {
  uint64_t s = conn_id * 0x100000001b3ull ^ seq;
  return static_cast<size_t>(splitmix64(s) % kPeriod);
}

// Bytes 0..15 of the message: conn_id and seq (little-endian, xored with a
// constant) xored again with the pattern, so that even 1-byte messages differ
// between connections and requests.
char header_byte(uint64_t conn_id, uint64_t seq, size_t seed, size_t i) noexcept {
  uint64_t word = i < 8 ? conn_id ^ kConnXor : seq ^ kSeqXor;
  auto b = static_cast<char>((word >> (8 * (i % 8))) & 0xff);
  return static_cast<char>(b ^ kPattern[(seed + i) % kPeriod]);
}

// Calls op(pattern_ptr, message_offset, len) over [offset, offset+n) past the
// header, one contiguous pattern run at a time; stops early when op is false.
template <class Op>
bool for_each_run(size_t seed, size_t offset, size_t n, Op op) noexcept {
  size_t pos = (seed + offset) % kPeriod;
  size_t done = 0;
  while (done < n) {
    size_t len = std::min(n - done, kPeriod);
    if (!op(kPattern.data() + pos, done, len)) return false;
    done += len;
    pos = (pos + len) % kPeriod;
  }
  return true;
}

}  // namespace

void payload_fill(uint64_t conn_id, uint64_t seq, size_t offset, std::span<char> out) noexcept {
  size_t seed = seed_of(conn_id, seq);
  size_t i = 0;
  for (; i < out.size() && offset + i < kHeaderBytes; ++i) {
    out[i] = header_byte(conn_id, seq, seed, offset + i);
  }
  char* dst = out.data() + i;
  for_each_run(seed, offset + i, out.size() - i, [dst](const char* src, size_t at, size_t len) {
    std::memcpy(dst + at, src, len);
    return true;
  });
}

bool payload_verify(uint64_t conn_id, uint64_t seq, size_t offset,
                    std::span<const char> in) noexcept {
  size_t seed = seed_of(conn_id, seq);
  size_t i = 0;
  for (; i < in.size() && offset + i < kHeaderBytes; ++i) {
    if (in[i] != header_byte(conn_id, seq, seed, offset + i)) return false;
  }
  const char* src = in.data() + i;
  return for_each_run(seed, offset + i, in.size() - i, [src](const char* pat, size_t at, size_t len) {
    return std::memcmp(src + at, pat, len) == 0;
  });
}

}  // namespace iomodels
