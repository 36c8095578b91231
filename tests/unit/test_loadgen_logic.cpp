// loadgen pure logic: options, schedule, sizes, histogram JSON and merge.
#include <gtest/gtest.h>

#include <array>
#include <random>

#include "core/histogram.h"
#include "loadgen/options.h"
#include "loadgen/result.h"
#include "loadgen/schedule.h"

namespace iomodels::loadgen {
namespace {

ParsedCommand parse(std::vector<std::string> args) { return parse_options(args); }

std::string usage_error(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(LoadgenOptions, Defaults) {
  Options o = parse({"--target", "127.0.0.1:7000"}).options;
  EXPECT_EQ(o.connections, 10);
  EXPECT_EQ(o.pipeline, 1);
  EXPECT_FALSE(o.open_loop());
  EXPECT_EQ(o.size_min, 64u);
  EXPECT_EQ(o.size_max, 64u);
  EXPECT_EQ(o.protocol, Protocol::kEcho);
}

TEST(LoadgenOptions, OpenLoopCapDefaultsHighUnlessGiven) {
  EXPECT_EQ(parse({"--rate", "1000"}).options.pipeline, kOpenLoopDefaultCap);
  EXPECT_EQ(parse({"--rate", "1000", "--pipeline", "1"}).options.pipeline, 1);
}

TEST(LoadgenOptions, ErrorsNameTheOption) {
  EXPECT_EQ(usage_error({"--connections", "0"}), "--connections: must be >= 1");
  EXPECT_EQ(usage_error({"--threads", "0"}).rfind("--threads:", 0), 0u);
  EXPECT_EQ(usage_error({"--rate", "-1"}).rfind("--rate:", 0), 0u);
  EXPECT_EQ(usage_error({"--size", "9-3"}).rfind("--size:", 0), 0u);
  EXPECT_EQ(usage_error({"--requests-per-connection", "-2"}).rfind("--requests-per-connection:", 0), 0u);
  EXPECT_EQ(usage_error({"--duration", "0"}).rfind("--duration:", 0), 0u);
  EXPECT_NE(usage_error({"--rate", "fast"}).find("--rate"), std::string::npos);
  EXPECT_EQ(usage_error({"--duration", "0", "--requests", "10"}), "");
}

TEST(LoadgenOptions, TimesTakeUnitsLikeWrk) {
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "10"), 10.0);
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "1.5"), 1.5);
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "10s"), 10.0);
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "500ms"), 0.5);
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "250us"), 250e-6);
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "2m"), 120.0);
  EXPECT_DOUBLE_EQ(parse_seconds("duration", "1h"), 3600.0);
  Options o = parse({"-d", "2m", "--warmup", "500ms", "--timeout", "1.5s"}).options;
  EXPECT_DOUBLE_EQ(o.duration_s, 120.0);
  EXPECT_DOUBLE_EQ(o.warmup_s, 0.5);
  EXPECT_DOUBLE_EQ(o.timeout_s, 1.5);
  EXPECT_EQ(usage_error({"--duration", "10x"}).rfind("--duration:", 0), 0u);
  EXPECT_EQ(usage_error({"--duration", "ms"}).rfind("--duration:", 0), 0u);
  EXPECT_EQ(usage_error({"--warmup", "-1s"}).rfind("--warmup:", 0), 0u);
  EXPECT_EQ(usage_error({"--timeout", "0ms"}).rfind("--timeout:", 0), 0u);
  EXPECT_EQ(usage_error({"--timeout", "nan"}).rfind("--timeout:", 0), 0u);
  EXPECT_EQ(usage_error({"--duration", "25h"}).rfind("--duration:", 0), 0u);
}

TEST(LoadgenOptions, NotifyFdMustBeOpenForWriting) {
  EXPECT_EQ(parse({}).options.notify_fd, -1);
  EXPECT_EQ(parse({"--notify-fd", "2"}).options.notify_fd, 2);
  EXPECT_EQ(usage_error({"--notify-fd", "987"}).rfind("--notify-fd:", 0), 0u);
  EXPECT_EQ(usage_error({"--notify-fd", "-3"}).rfind("--notify-fd:", 0), 0u);
}

TEST(LoadgenOptions, ThreadsNeverExceedConnections) {
  EXPECT_EQ(parse({"-c", "2", "-t", "8"}).options.threads, 2);
}

TEST(LoadgenOptions, SizeForms) {
  size_t a = 0, b = 0;
  parse_size("128", a, b);
  EXPECT_EQ(a, 128u);
  EXPECT_EQ(b, 128u);
  parse_size("16-1024", a, b);
  EXPECT_EQ(a, 16u);
  EXPECT_EQ(b, 1024u);
  EXPECT_THROW(parse_size("0", a, b), UsageError);
  EXPECT_THROW(parse_size("-5", a, b), UsageError);
  EXPECT_THROW(parse_size("1-", a, b), UsageError);
  EXPECT_THROW(parse_size("999999999999", a, b), UsageError);
}

TEST(LoadgenSchedule, EvenlySpacedAcrossConnections) {
  OpenLoopSchedule s(1'000'000, 1000.0, 4);  // 1000 req/s over 4 connections
  EXPECT_EQ(s.intended_ns(0, 0), 1'000'000u);
  EXPECT_EQ(s.intended_ns(1, 0), 2'000'000u);   // next slot 1 ms later
  EXPECT_EQ(s.intended_ns(0, 1), 5'000'000u);   // own period: 4 ms
  EXPECT_EQ(s.intended_ns(3, 250), 1'000'000u + (3 + 250 * 4) * 1'000'000u);
  // Walking slots in order, then k, gives non-decreasing due times.
  uint64_t last = 0;
  for (uint64_t k = 0; k < 100; ++k)
    for (uint64_t g = 0; g < 4; ++g) {
      EXPECT_GE(s.intended_ns(g, k), last);
      last = s.intended_ns(g, k);
    }
  EXPECT_EQ(s.first_k_at_or_after(2, 0), 0u);
  uint64_t k = s.first_k_at_or_after(2, 50'000'000);
  EXPECT_GE(s.intended_ns(2, k), 50'000'000u);
  EXPECT_LT(s.intended_ns(2, k - 1), 50'000'000u);
}

TEST(LoadgenSchedule, MicrosecondRates) {
  OpenLoopSchedule s(0, 300'000.0, 1);  // 3.33 µs apart: not a ms timer
  EXPECT_EQ(s.intended_ns(0, 3), 10'000u);
  EXPECT_EQ(s.intended_ns(0, 300'000), 1'000'000'000u);
}

TEST(LoadgenSizes, DeterministicUniformInRange) {
  SizePicker a(16, 1024, 7, 3), b(16, 1024, 7, 3), c(16, 1024, 7, 4);
  bool differs = false;
  size_t lo = SIZE_MAX, hi = 0;
  for (int i = 0; i < 20000; ++i) {
    size_t x = a.next();
    EXPECT_EQ(x, b.next());
    differs = differs || x != c.next();
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(lo, 16u);
  EXPECT_EQ(hi, 1024u);
  SizePicker fixed(64, 64, 1, 1);
  EXPECT_EQ(fixed.next(), 64u);
}

TEST(LoadgenHistogramJson, RoundTripIsExact) {
  Histogram h;
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.0, 1.5);  // ~60 µs, long tail
  for (int i = 0; i < 50000; ++i) h.record(static_cast<uint64_t>(dist(rng)) + 1000);
  nlohmann::json j = histogram_json(h);
  Histogram back = histogram_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.count(), h.count());
  EXPECT_EQ(back.min(), h.min());
  EXPECT_EQ(back.max(), h.max());
  EXPECT_EQ(back.buckets(), h.buckets());
  for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0})
    EXPECT_EQ(back.value_at_percentile(p), h.value_at_percentile(p)) << p;
  EXPECT_THROW(histogram_from_json(nlohmann::json{{"unit", "ms"}}), std::runtime_error);
}

TEST(LoadgenHistogramJson, TwoHalvesMergeToTheWhole) {
  Histogram whole, first, second;
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> dist(1.0 / 200'000.0);
  for (int i = 0; i < 40000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng)) + 2000;
    whole.record(v);
    (i < 20000 ? first : second).record(v);
  }
  // Through JSON, as `loadgen merge` sees them.
  Histogram merged = histogram_from_json(histogram_json(first));
  merged.merge(histogram_from_json(histogram_json(second)));
  EXPECT_EQ(merged.count(), whole.count());
  EXPECT_EQ(merged.min(), whole.min());
  EXPECT_EQ(merged.max(), whole.max());
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
    EXPECT_EQ(merged.value_at_percentile(p), whole.value_at_percentile(p)) << p;
}

TEST(LoadgenResult, JsonRoundTripAndMerge) {
  Options o = parse({"--target", "127.0.0.1:9", "-c", "3"}).options;
  RunResult a;
  a.context = context_json();
  a.config = config_json(o, 0);
  a.duration_s = 2;
  a.requests = 100;
  a.bytes_sent = a.bytes_received = 6400;
  a.errors[ErrorKind::kTimeout] = 2;
  a.lost[LostCause::kTimeout] = 7;
  a.lost[LostCause::kEndOfRun] = 1;
  a.unsent = 3;
  a.sent = 108;
  a.thread_cpu_max = 0.42;
  a.window_start_ns = 1000;
  a.window_end_ns = 2'000'001'000;
  for (int i = 0; i < 50; ++i) a.schedule_lag.record(1000 + static_cast<uint64_t>(i) * 10'000);
  a.seconds.resize(2);
  std::array<Histogram, 2> per_second;
  for (int i = 0; i < 100; ++i) {
    a.corrected.record(10'000 + static_cast<uint64_t>(i) * 100);
    a.uncorrected.record(9'000);
    per_second[static_cast<size_t>(i % 2)].record(10'000 + static_cast<uint64_t>(i) * 100);
    ++a.seconds[static_cast<size_t>(i % 2)].requests;
  }
  for (size_t s = 0; s < 2; ++s) a.seconds[s].latency.add(per_second[s]);
  nlohmann::json j = to_json(a);
  EXPECT_EQ(j["schema"], "iomodels.loadgen/1");
  EXPECT_EQ(stored_figures(j).requests_per_s, 50.0);
  EXPECT_EQ(j["timeseries"].size(), 2u);
  EXPECT_EQ(j["timeseries"][1]["t_s"], 2);
  RunResult b = from_json(j);
  EXPECT_EQ(b.requests, 100u);
  EXPECT_EQ(b.errors[ErrorKind::kTimeout], 2u);
  EXPECT_EQ(b.corrected.count(), 100u);
  b.merge(from_json(j));
  nlohmann::json m = to_json(b);
  EXPECT_EQ(m["summary"]["requests"], 200);
  EXPECT_EQ(stored_figures(m).requests_per_s, 100.0);  // side by side: rates add
  EXPECT_EQ(m["latency_us"]["p50"], j["latency_us"]["p50"]);  // same distribution twice
  EXPECT_EQ(m["timeseries"][0]["requests"], 100);
  EXPECT_EQ(m["timeseries"][0]["p99_us"], j["timeseries"][0]["p99_us"]);
  // Lost and unsent add up, the schedule lag histograms merge, the busiest thread stays the max.
  EXPECT_EQ(j["summary"]["lost"]["total"], 8);
  EXPECT_EQ(m["summary"]["lost"]["timeout"], 14);
  EXPECT_EQ(m["summary"]["lost"]["end_of_run"], 2);
  EXPECT_EQ(m["summary"]["lost"]["total"], 16);
  EXPECT_EQ(m["summary"]["unsent"], 6);
  EXPECT_EQ(m["summary"]["sent"], 216);
  EXPECT_EQ(m["schedule_lag_us"]["count"], 100);
  EXPECT_EQ(m["schedule_lag_us"]["p99"], j["schedule_lag_us"]["p99"]);
  EXPECT_EQ(m["schedule_lag_us"]["max"], j["schedule_lag_us"]["max"]);
  EXPECT_EQ(m["summary"]["loadgen_thread_cpu_max"], 0.42);
  EXPECT_EQ(m["summary"]["window"]["start_ns"], 1000);
  EXPECT_EQ(m["summary"]["window"]["end_ns"], 2'000'001'000);
  EXPECT_THROW(from_json(nlohmann::json{{"schema", "other/1"}}), std::runtime_error);
}

}  // namespace
}  // namespace iomodels::loadgen
