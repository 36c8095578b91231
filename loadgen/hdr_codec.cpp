#include "loadgen/hdr_codec.h"

#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace iomodels::loadgen::hdr {
namespace {

constexpr uint32_t kV2Cookie = 0x1c849303 | 0x10;            // plain; 0x10: ZigZag LEB128 words
constexpr uint32_t kV2CompressedCookie = 0x1c849304 | 0x10;  // zlib around the plain form
constexpr size_t kHeaderBytes = 40;
// A decoded histogram larger than this is refused: ours take a few hundred
// KiB at most, and a hostile length must not make us allocate gigabytes.
constexpr size_t kMaxPlainBytes = 16u << 20;

void put_u32(std::vector<uint8_t>& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
void put_u64(std::vector<uint8_t>& b, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}
uint64_t get_be(const std::vector<uint8_t>& b, size_t at, int bytes) {
  if (at + static_cast<size_t>(bytes) > b.size()) throw std::runtime_error("hdr histogram: truncated header");
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | b[at + static_cast<size_t>(i)];
  return v;
}

// HdrHistogram's ZigZag LEB128: 7 bits a byte for 8 bytes, the 9th carries 8.
void put_varint(std::vector<uint8_t>& b, int64_t signed_value) {
  uint64_t v = (static_cast<uint64_t>(signed_value) << 1) ^ static_cast<uint64_t>(signed_value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((v >> 7) == 0) {
      b.push_back(static_cast<uint8_t>(v));
      return;
    }
    b.push_back(static_cast<uint8_t>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<uint8_t>(v));
}

int64_t get_varint(const std::vector<uint8_t>& b, size_t& at, size_t end) {
  uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (at >= end) throw std::runtime_error("hdr histogram: counts end inside a number");
    uint64_t byte = b[at++];
    if (i == 8) {
      v |= byte << 56;
      break;
    }
    v |= (byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) break;
  }
  return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
}

std::vector<uint8_t> inflate_bounded(const uint8_t* src, size_t len) {
  z_stream z{};
  if (::inflateInit(&z) != Z_OK) throw std::runtime_error("hdr histogram: zlib inflateInit failed");
  std::vector<uint8_t> out(std::min<size_t>(len * 8 + 4096, kMaxPlainBytes));
  z.next_in = const_cast<Bytef*>(src);
  z.avail_in = static_cast<uInt>(len);
  int rc = Z_OK;
  while (rc == Z_OK) {
    if (z.total_out == out.size()) {
      if (out.size() >= kMaxPlainBytes) break;
      out.resize(std::min(out.size() * 2, kMaxPlainBytes));
    }
    z.next_out = out.data() + z.total_out;
    z.avail_out = static_cast<uInt>(out.size() - z.total_out);
    rc = ::inflate(&z, Z_NO_FLUSH);
  }
  const size_t produced = z.total_out;
  ::inflateEnd(&z);
  if (rc != Z_STREAM_END)
    throw std::runtime_error(rc == Z_OK ? "hdr histogram: larger than 16 MiB decoded" : "hdr histogram: bad zlib data");
  out.resize(produced);
  return out;
}

Decoded decode_plain(const std::vector<uint8_t>& b) {
  if (get_be(b, 0, 4) != kV2Cookie) throw std::runtime_error("hdr histogram: compressed payload is not a V2 histogram");
  const uint64_t payload = get_be(b, 4, 4);
  const uint64_t normalizing = get_be(b, 8, 4);
  Decoded d;
  d.significant_digits = static_cast<int>(get_be(b, 12, 4));
  d.lowest_discernible = get_be(b, 16, 8);
  d.highest_trackable = get_be(b, 24, 8);
  if (normalizing != 0) throw std::runtime_error("hdr histogram: a normalizing index offset is not supported");
  if (d.significant_digits < 0 || d.significant_digits > 5)
    throw std::runtime_error("hdr histogram: significant digits must be 0..5");
  if (d.lowest_discernible < 1 || d.highest_trackable < 2 * d.lowest_discernible ||
      d.highest_trackable > static_cast<uint64_t>(INT64_MAX))
    throw std::runtime_error("hdr histogram: bad value range");
  if (kHeaderBytes + payload > b.size()) throw std::runtime_error("hdr histogram: counts truncated");
  const Layout layout = Layout::of(d.lowest_discernible, d.significant_digits);
  const size_t length = layout.counts_length(d.highest_trackable);
  size_t at = kHeaderBytes, index = 0;
  const size_t end = kHeaderBytes + payload;
  while (at < end) {
    const int64_t word = get_varint(b, at, end);
    if (word < 0) {
      if (static_cast<uint64_t>(-(word + 1)) >= length) throw std::runtime_error("hdr histogram: run of zeros past the end");
      index += static_cast<size_t>(-(word + 1)) + 1;
      continue;
    }
    if (index >= length) throw std::runtime_error("hdr histogram: more counts than buckets");
    if (word > 0) d.buckets.emplace_back(layout.lowest_equivalent(index), static_cast<uint64_t>(word));
    ++index;
  }
  return d;
}

}  // namespace

Layout Layout::of(uint64_t lowest_discernible, int significant_digits) {
  if (lowest_discernible < 1 || significant_digits < 0 || significant_digits > 5)
    throw std::runtime_error("hdr histogram: bad layout");
  const double largest_single_unit = 2.0 * std::pow(10.0, significant_digits);
  const int sub_bucket_bits = static_cast<int>(std::ceil(std::log(largest_single_unit) / std::log(2.0)));
  Layout l;
  l.unit_magnitude = 63 - std::countl_zero(lowest_discernible);
  l.sub_bucket_half_bits = std::max(sub_bucket_bits, 1) - 1;
  if (l.unit_magnitude + l.sub_bucket_half_bits > 61) throw std::runtime_error("hdr histogram: bad layout");
  return l;
}

size_t Layout::index_of(uint64_t value) const noexcept {
  const uint64_t mask = ((uint64_t{2} << sub_bucket_half_bits) - 1) << unit_magnitude;
  const int bucket = 64 - unit_magnitude - sub_bucket_half_bits - 1 - std::countl_zero(value | mask);
  const uint64_t sub = value >> (bucket + unit_magnitude);
  return (static_cast<size_t>(bucket + 1) << sub_bucket_half_bits) + (sub - (uint64_t{1} << sub_bucket_half_bits));
}

uint64_t Layout::lowest_equivalent(size_t index) const noexcept {
  const uint64_t half = uint64_t{1} << sub_bucket_half_bits;
  int bucket = static_cast<int>(index >> sub_bucket_half_bits) - 1;
  uint64_t sub = (index & (half - 1)) + half;
  if (bucket < 0) {
    sub -= half;
    bucket = 0;
  }
  return sub << (bucket + unit_magnitude);
}

uint64_t Layout::highest_equivalent(size_t index) const noexcept {
  const int bucket = std::max(static_cast<int>(index >> sub_bucket_half_bits) - 1, 0);
  return lowest_equivalent(index) + (uint64_t{1} << (bucket + unit_magnitude)) - 1;
}

size_t Layout::bucket_count(uint64_t highest_trackable) const noexcept {
  uint64_t untrackable = (uint64_t{2} << sub_bucket_half_bits) << unit_magnitude;
  size_t buckets = 1;
  while (untrackable <= highest_trackable) {
    if (untrackable > static_cast<uint64_t>(INT64_MAX) / 2) return buckets + 1;
    untrackable <<= 1;
    ++buckets;
  }
  return buckets;
}

size_t Layout::counts_length(uint64_t highest_trackable) const noexcept {
  return (bucket_count(highest_trackable) + 1) << sub_bucket_half_bits;
}

Layout our_layout() { return Layout::of(1, Histogram::kSignificantDigits); }

std::string base64_encode(const std::vector<uint8_t>& b) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(b[i]) << 16;
    if (i + 1 < b.size()) v |= static_cast<uint32_t>(b[i + 1]) << 8;
    if (i + 2 < b.size()) v |= b[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < b.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < b.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.size() % 4 != 0) throw std::runtime_error("hdr histogram: Base64 length is not a multiple of 4");
  std::vector<uint8_t> out;
  for (size_t i = 0; i < text.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + static_cast<size_t>(k)];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad || (v[k] = value(c)) < 0) throw std::runtime_error("hdr histogram: not Base64");
    }
    const uint32_t w = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                       (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<uint8_t>(w >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(w >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(w));
  }
  return out;
}

std::vector<uint8_t> encode_compressed(const Histogram& h) {
  const Layout layout = our_layout();
  std::vector<uint64_t> counts(1, 0);  // an empty histogram still writes one (empty) bucket, as HdrHistogram does
  for (const auto& [lo, n] : h.buckets()) {
    const size_t i = layout.index_of(lo);
    if (counts.size() <= i) counts.resize(i + 1, 0);
    counts[i] += n;
  }
  std::vector<uint8_t> plain;
  put_u32(plain, kV2Cookie);
  put_u32(plain, 0);  // payload length, filled below
  put_u32(plain, 0);  // normalizing index offset
  put_u32(plain, static_cast<uint32_t>(Histogram::kSignificantDigits));
  put_u64(plain, 1);  // lowest discernible value: 1 ns (values below 1 µs are recorded as 1 µs)
  put_u64(plain, Histogram::kHighestNs);
  double ratio = 1.0;
  uint64_t ratio_bits;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio_bits);
  put_u64(plain, ratio_bits);
  for (size_t i = 0; i < counts.size();) {
    size_t zeros = 0;
    while (i + zeros < counts.size() && counts[i + zeros] == 0) ++zeros;
    if (zeros > 1) {
      put_varint(plain, -static_cast<int64_t>(zeros));
      i += zeros;
    } else {
      put_varint(plain, static_cast<int64_t>(counts[i]));
      ++i;
    }
  }
  const uint32_t payload = static_cast<uint32_t>(plain.size() - kHeaderBytes);
  for (int k = 0; k < 4; ++k) plain[4 + static_cast<size_t>(k)] = static_cast<uint8_t>(payload >> (24 - 8 * k));

  uLongf zlen = ::compressBound(plain.size());
  std::vector<uint8_t> out;
  put_u32(out, kV2CompressedCookie);
  put_u32(out, 0);
  out.resize(8 + zlen);
  if (::compress2(out.data() + 8, &zlen, plain.data(), plain.size(), Z_DEFAULT_COMPRESSION) != Z_OK)
    throw std::runtime_error("hdr histogram: zlib compress failed");
  out.resize(8 + zlen);
  for (int k = 0; k < 4; ++k) out[4 + static_cast<size_t>(k)] = static_cast<uint8_t>(zlen >> (24 - 8 * k));
  return out;
}

Decoded decode(const std::vector<uint8_t>& b) {
  const uint32_t cookie = static_cast<uint32_t>(get_be(b, 0, 4));
  const uint32_t base = cookie & ~0xf0u;
  if (cookie == kV2CompressedCookie) {
    const uint64_t len = get_be(b, 4, 4);
    if (8 + len > b.size()) throw std::runtime_error("hdr histogram: compressed data truncated");
    return decode_plain(inflate_bounded(b.data() + 8, static_cast<size_t>(len)));
  }
  if (cookie == kV2Cookie) return decode_plain(b);
  if (base == 0x1c849308 || base == 0x1c849309 || base == 0x1c849301 || base == 0x1c849302)
    throw std::runtime_error("hdr histogram: the V0/V1 encodings (HdrHistogram before 2.1) are not supported");
  if ((cookie & ~0xffu) == 0x0c721200)
    throw std::runtime_error("hdr histogram: a DoubleHistogram, not an integer histogram");
  throw std::runtime_error("hdr histogram: unknown encoding cookie");
}

Histogram to_histogram(const Decoded& d) {
  Histogram h;
  if (d.buckets.empty()) return h;
  for (size_t i = 0; i + 1 < d.buckets.size(); ++i) h.record(d.buckets[i].first, d.buckets[i].second);
  // The top bucket at its highest value, so that max() and the top percentiles
  // are what HdrHistogram reports for it (the top of the bucket), not its bottom.
  const Layout ours = our_layout();
  const uint64_t top = d.buckets.back().first;
  h.record(top >= Histogram::kLowestNs ? ours.highest_equivalent(ours.index_of(top)) : top, d.buckets.back().second);
  return h;
}

}  // namespace iomodels::loadgen::hdr
