// HdrHistogram's V2 encoding and interval log (loadgen/hdr_codec.h,
// loadgen/hdr_log.h). The golden string below was written by HdrHistogram's
// Java implementation (Debian's libhdrhistogram-java 2.1.11), not by us:
//   Histogram h = new Histogram(1, 60_000_000_000L, 3);
//   h.recordValue(1000); h.recordValueWithCount(12345, 7);
//   h.recordValueWithCount(2500000, 3); h.recordValue(59000000000L);
//   h.recordValueWithCount(123456789L, 1L << 40);
//   encodeIntoCompressedByteBuffer, then Base64.
// The end-to-end check against that implementation is tests/hdr/check_hdr_interop.py.
#include <gtest/gtest.h>

#include <random>
#include <sstream>

#include "loadgen/hdr_codec.h"
#include "loadgen/hdr_log.h"

namespace iomodels::loadgen {
namespace {

constexpr const char* kJavaWritten =
    "HISTFAAAADR4nJNpmSzMwMAgygABzFCaEYh5f7hHMNh/gAic52fabcH3vYptdVQDCDg09zEyAQAGLAxk";

uint64_t count_in_bucket_of(const Histogram& h, uint64_t value) {
  const auto layout = hdr::our_layout();
  const uint64_t lo = layout.lowest_equivalent(layout.index_of(value));
  for (const auto& [v, n] : h.buckets())
    if (v == lo) return n;
  return 0;
}

TEST(HdrCodec, DecodesWhatHdrHistogramJavaWrote) {
  hdr::Decoded d = hdr::decode(hdr::base64_decode(kJavaWritten));
  EXPECT_EQ(d.significant_digits, 3);
  EXPECT_EQ(d.lowest_discernible, 1u);
  EXPECT_EQ(d.highest_trackable, 60'000'000'000u);
  ASSERT_EQ(d.buckets.size(), 5u);
  Histogram h = hdr::to_histogram(d);
  EXPECT_EQ(h.count(), (1ull << 40) + 12);  // Java's getTotalCount: 1099511627788
  EXPECT_EQ(count_in_bucket_of(h, 12345), 7u);
  EXPECT_EQ(count_in_bucket_of(h, 2'500'000), 3u);
  EXPECT_EQ(count_in_bucket_of(h, 123'456'789), 1ull << 40);  // a count needing 6 varint bytes
  EXPECT_EQ(count_in_bucket_of(h, 59'000'000'000), 1u);
  // Java: getValueAtPercentile(50) = 123469823, the top of 123456789's bucket.
  EXPECT_EQ(hdr::our_layout().highest_equivalent(hdr::our_layout().index_of(123'456'789)), 123'469'823u);
}

TEST(HdrCodec, OurEncodingRoundTripsBucketForBucket) {
  Histogram h;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> latency(11.0, 1.5);  // around 60 µs, long tail
  for (int i = 0; i < 20000; ++i) h.record(static_cast<uint64_t>(latency(rng)));
  h.record(70'000'000'000);  // saturates at 60 s
  h.record(1u << 20, 1ull << 45);
  const auto bytes = hdr::encode_compressed(h);
  EXPECT_EQ(hdr::base64_encode(bytes).substr(0, 5), "HISTF");  // the V2 compressed cookie, as Java writes it
  Histogram back = hdr::to_histogram(hdr::decode(hdr::base64_decode(hdr::base64_encode(bytes))));
  EXPECT_EQ(back.buckets(), h.buckets());
  EXPECT_EQ(back.count(), h.count());
}

TEST(HdrCodec, EmptyHistogramEncodesAndDecodes) {
  Histogram empty;
  EXPECT_EQ(hdr::to_histogram(hdr::decode(hdr::encode_compressed(empty))).count(), 0u);
}

TEST(HdrCodec, LayoutIsTheHistogramsLayout) {
  // Every bucket our Histogram reports starts where HdrHistogram's layout says.
  Histogram h;
  for (uint64_t v = 1000; v < 60'000'000'000; v = v * 1013 / 1000 + 1) h.record(v);
  const auto layout = hdr::our_layout();
  for (const auto& [lo, n] : h.buckets()) ASSERT_EQ(layout.lowest_equivalent(layout.index_of(lo)), lo);
  EXPECT_EQ(layout.bucket_count(Histogram::kHighestNs), 26u);  // Java's bucketCount for (1, 60e9, 3)
}

TEST(HdrCodec, Base64MatchesRfc4648Vectors) {
  auto enc = [](std::string s) { return hdr::base64_encode(std::vector<uint8_t>(s.begin(), s.end())); };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg==");
  EXPECT_EQ(enc("fo"), "Zm8=");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  auto dec = [](std::string s) {
    auto b = hdr::base64_decode(s);
    return std::string(b.begin(), b.end());
  };
  EXPECT_EQ(dec("Zm8="), "fo");
  EXPECT_EQ(dec("Zg=="), "f");
  EXPECT_THROW(hdr::base64_decode("Zm8"), std::runtime_error);
  EXPECT_THROW(hdr::base64_decode("Z=8="), std::runtime_error);
  EXPECT_THROW(hdr::base64_decode("Zm*="), std::runtime_error);
}

TEST(HdrCodec, RefusesWhatItCannotRead) {
  auto bytes = hdr::base64_decode(kJavaWritten);
  auto expect_error = [](std::vector<uint8_t> b, const std::string& words) {
    try {
      hdr::decode(b);
      ADD_FAILURE() << "no error, expected '" << words << "'";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  expect_error({}, "truncated");
  expect_error(std::vector<uint8_t>(bytes.begin(), bytes.end() - 3), "truncated");
  auto v1 = bytes;
  v1[3] = 0x12;  // 0x1c849312: V1 compressed
  expect_error(v1, "V0/V1");
  auto dbl = bytes;
  dbl[0] = 0x0c, dbl[1] = 0x72, dbl[2] = 0x12, dbl[3] = 0x4f;
  expect_error(dbl, "DoubleHistogram");
  auto zip = bytes;
  zip[12] ^= 0xff;  // inside the zlib stream
  expect_error(zip, "zlib");
}

RunResult three_second_result() {
  RunResult r;
  r.config = {{"protocol", "echo"}, {"connections", 8}, {"size", 64}};
  r.duration_s = 2.5;
  r.seconds.resize(3);
  for (int s = 0; s < 3; ++s) {
    Histogram second;
    for (int i = 0; i < 100; ++i) {
      const uint64_t v = 20'000 + static_cast<uint64_t>(s * 10'000 + i * 97);
      second.record(v);
      r.seconds[static_cast<size_t>(s)].requests++;
      r.corrected.record(v);
    }
    r.seconds[static_cast<size_t>(s)].latency.add(second);
  }
  r.requests = r.corrected.count();
  return r;
}

TEST(HdrLog, IntervalLogHasOneTaggedLinePerSecondAndReadsBack) {
  RunResult r = three_second_result();
  const std::string tag = default_hdr_tag(r);
  EXPECT_EQ(tag, "echo/c8/s64");
  const std::string log = interval_log(r, tag, 1'700'000'000.0);
  std::istringstream lines(log);
  std::vector<std::string> data;
  for (std::string l; std::getline(lines, l);)
    if (l.rfind("Tag=", 0) == 0) data.push_back(l);
  ASSERT_EQ(data.size(), 3u);
  EXPECT_EQ(data[0].substr(0, 35), "Tag=echo/c8/s64,0.000,1.000,0.030,H");  // max 29.603 µs, in ms
  EXPECT_EQ(data[2].substr(0, 27), "Tag=echo/c8/s64,2.000,0.500");  // the last second is cut short
  EXPECT_NE(log.find("#[Histogram log format version 1.3]\n"), std::string::npos);
  EXPECT_NE(log.find("#[StartTime: 1700000000.000 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n"),
            std::string::npos);
  std::istringstream in(log);
  RunResult back = read_interval_log(in);
  EXPECT_EQ(back.corrected.buckets(), r.corrected.buckets());
  ASSERT_EQ(back.seconds.size(), 3u);
  EXPECT_EQ(back.seconds[1].latency.expand().buckets(), r.seconds[1].latency.expand().buckets());
  EXPECT_DOUBLE_EQ(back.duration_s, 2.5);
  EXPECT_EQ(back.config["hdr_tags"], nlohmann::json::array({"echo/c8/s64"}));
}

TEST(HdrLog, TagsThatWouldBreakTheLogAreRefused) {
  EXPECT_TRUE(valid_hdr_tag("epoll_lt/echo/c16/s64"));
  EXPECT_FALSE(valid_hdr_tag(""));
  EXPECT_FALSE(valid_hdr_tag("a,b"));
  EXPECT_FALSE(valid_hdr_tag("a b"));
}

TEST(HdrLog, ReaderNamesTheBadLine) {
  std::istringstream in("#[Histogram log format version 1.3]\nTag=x,0.000,1.000,0.1,HISTFAAA\n");
  try {
    read_interval_log(in);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("line 2: ", 0), 0u) << e.what();
  }
  std::istringstream none("#[Histogram log format version 1.3]\n");
  EXPECT_THROW(read_interval_log(none), std::runtime_error);
}

TEST(HdrLog, PercentileDistributionFollowsHdrHistogramsTicks) {
  Histogram h;
  for (uint64_t v = 1; v <= 1000; ++v) h.record(v * 1000);  // 1 .. 1000 µs
  const std::string text = percentile_distribution(h);
  std::istringstream in(text);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "       Value     Percentile TotalCount 1/(1-Percentile)");
  std::vector<std::string> rows;
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] != '#') rows.push_back(l);
  // Levels 0, 10, 20 ... 50, 55 ... (5 ticks per half distance), then 100% last;
  // the rows are the ones HdrHistogram 2.1.11 prints for the same 1000 values.
  EXPECT_EQ(rows.front(), "       1.000 0.000000000000          1           1.00");
  EXPECT_EQ(rows[1], "     100.031 0.100000000000        100           1.11");
  EXPECT_EQ(rows.back(), "    1000.447 1.000000000000       1000");
  EXPECT_EQ(rows[rows.size() - 2], "    1000.447 0.999023437500       1000        1024.00");
  // The footer as HdrHistogram 2.1.11 prints it for the same histogram (bucket-median mean).
  EXPECT_NE(text.find("#[Mean    =      500.505, StdDeviation   =      288.676]"), std::string::npos) << text;
  EXPECT_NE(text.find("#[Max     =     1000.447, Total count    =         1000]"), std::string::npos) << text;
  EXPECT_NE(text.find("#[Buckets =           26, SubBuckets     =         2048]"), std::string::npos) << text;
}

}  // namespace
}  // namespace iomodels::loadgen
