// HdrHistogram's binary form of one histogram, so that HdrHistogram's own
// tools (HistogramLogProcessor, the plotter page, hdr-histogram-js) read ours
// and `loadgen merge` reads theirs. This is the "V2" encoding every current
// implementation writes:
//   compressed: int32 cookie 0x1c849314, int32 length, zlib stream of
//   plain:      int32 cookie 0x1c849313, int32 payload length, int32 normalizing
//               index offset (0), int32 significant digits, int64 lowest
//               discernible value, int64 highest trackable value, double
//               integer-to-double ratio (1.0), then the counts in bucket order,
//               each a ZigZag LEB128 varint (at most 9 bytes), a run of n > 1
//               empty buckets written as -n.
// All integers big-endian. Text logs carry it in Base64.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/histogram.h"

namespace iomodels::loadgen::hdr {

// HdrHistogram's bucket layout for a lowest discernible value and a number
// of significant digits: what index a value has and back.
struct Layout {
  int unit_magnitude = 0;      // floor(log2(lowest discernible value))
  int sub_bucket_half_bits = 10;  // log2(sub-bucket count) - 1; 10 for 3 digits

  static Layout of(uint64_t lowest_discernible, int significant_digits);  // throws on bad values
  size_t index_of(uint64_t value) const noexcept;
  uint64_t lowest_equivalent(size_t index) const noexcept;
  uint64_t highest_equivalent(size_t index) const noexcept;
  size_t counts_length(uint64_t highest_trackable) const noexcept;
  size_t bucket_count(uint64_t highest_trackable) const noexcept;
};

// Our Histogram is this layout: 1 ns unit, 3 digits, up to 60 s.
Layout our_layout();

std::string base64_encode(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> base64_decode(std::string_view text);  // throws std::runtime_error

// Our histogram in the compressed V2 form.
std::vector<uint8_t> encode_compressed(const Histogram& h);

struct Decoded {
  int significant_digits = 0;
  uint64_t lowest_discernible = 0;
  uint64_t highest_trackable = 0;
  // Non-empty buckets: (lowest value of the bucket, count), in the log's unit.
  std::vector<std::pair<uint64_t, uint64_t>> buckets;
};

// A compressed (or plain) V2 histogram; throws std::runtime_error naming what
// is wrong (bad cookie, a DoubleHistogram, truncated, oversized, bad counts).
Decoded decode(const std::vector<uint8_t>& bytes);

// The decoded counts added into our histogram (values taken as ns); the top
// bucket's count goes in at the top of the bucket, as HdrHistogram's max().
Histogram to_histogram(const Decoded& d);

}  // namespace iomodels::loadgen::hdr
