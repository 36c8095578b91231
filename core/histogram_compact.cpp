#include "core/histogram_compact.h"

#include <algorithm>

namespace iomodels {

namespace {

void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}

uint64_t get_varint(const std::vector<uint8_t>& in, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0; at < in.size() && shift < 64; shift += 7) {
    uint8_t b = in[at++];
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

}  // namespace

std::vector<std::pair<uint64_t, uint64_t>> CompactHistogram::decode() const {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  out.reserve(buckets_);
  size_t at = 0;
  uint64_t value = 0;
  for (uint32_t k = 0; k < buckets_; ++k) {
    value += get_varint(data_, at);
    out.emplace_back(value, get_varint(data_, at));
  }
  return out;
}

void CompactHistogram::encode(const std::vector<std::pair<uint64_t, uint64_t>>& b) {
  std::vector<uint8_t> out;
  out.reserve(b.size() * 3);
  uint64_t previous = 0;
  for (const auto& [value, count] : b) {
    put_varint(out, value - previous);
    put_varint(out, count);
    previous = value;
  }
  out.shrink_to_fit();
  data_.swap(out);
  buckets_ = static_cast<uint32_t>(b.size());
}

void CompactHistogram::add(const std::vector<std::pair<uint64_t, uint64_t>>& b, uint64_t min_ns,
                           uint64_t max_ns) {
  if (b.empty()) return;
  const std::vector<std::pair<uint64_t, uint64_t>> held = decode();
  std::vector<std::pair<uint64_t, uint64_t>> out;
  out.reserve(held.size() + b.size());
  auto i = held.begin();
  auto j = b.begin();
  while (i != held.end() || j != b.end()) {
    if (j == b.end() || (i != held.end() && i->first < j->first)) {
      out.push_back(*i++);
    } else if (i == held.end() || j->first < i->first) {
      out.push_back(*j++);
    } else {
      out.emplace_back(i->first, i->second + j->second);
      ++i;
      ++j;
    }
  }
  encode(out);
  if (min_ns) min_ = std::min(min_, min_ns);
  if (max_ns) max_ = std::max(max_, max_ns);
}

void CompactHistogram::add(const Histogram& h) {
  if (h.count() == 0) return;
  add(h.buckets(), h.min(), h.max());
}

void CompactHistogram::merge(const CompactHistogram& other) {
  add(other.decode(), other.min_ == UINT64_MAX ? 0 : other.min_, other.max_);
}

uint64_t CompactHistogram::count() const {
  uint64_t n = 0;
  for (const auto& b : decode()) n += b.second;
  return n;
}

Histogram CompactHistogram::expand() const {
  Histogram h;
  if (buckets_ == 0) return h;
  std::vector<std::pair<uint64_t, uint64_t>> b = decode();
  // The exact min and max are recorded as one of the counts of their own
  // bucket, so the counts stay identical and min()/max() come back exact.
  auto place = [&](uint64_t exact) {
    auto it = std::upper_bound(b.begin(), b.end(), std::make_pair(exact, UINT64_MAX));
    if (it == b.begin()) return;
    --it;
    if (it->second == 0) return;
    h.record(exact, 1);
    --it->second;
  };
  if (min_ != UINT64_MAX) place(min_);
  if (max_ != 0) place(max_);
  for (const auto& [lo, n] : b)
    if (n) h.record(lo, n);
  return h;
}

}  // namespace iomodels
