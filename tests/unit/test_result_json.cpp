// Result files read back (loadgen merge, the harness): hostile numbers are
// refused with an error, never converted with undefined behaviour. Found by
// the loadgen_merge fuzzer (a bucket count of 5.5e137).
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "loadgen/result.h"

#include <fstream>
#include <sstream>

#include "test_paths.inc"

using iomodels::loadgen::from_json;
using iomodels::loadgen::histogram_from_json;

TEST(ResultJson, HistogramWithNonIntegerNumbersIsRefused) {
  auto ok = nlohmann::json::parse(R"({"unit": "ns", "buckets": [[1000, 3], [2000, 1]], "min": 1000, "max": 2000})");
  EXPECT_EQ(histogram_from_json(ok).count(), 4u);
  for (const char* bad : {R"({"unit": "ns", "buckets": [[1000, 5.5e137]]})",
                          R"({"unit": "ns", "buckets": [[1e300, 1]]})",
                          R"({"unit": "ns", "buckets": [[1000, -2]]})",
                          R"({"unit": "ns", "buckets": [[1000, 1]], "max": 1.5e40})"}) {
    EXPECT_THROW(histogram_from_json(nlohmann::json::parse(bad)), std::runtime_error) << bad;
  }
}

// Every count in a whole result, not only in histograms: found by the same
// fuzzer (a summary count of 1e85 read as uint64_t).
TEST(ResultJson, CountsAnywhereInAResultMustBeNonNegativeIntegers) {
  std::ifstream in(std::string(IOMODELS_SOURCE_DIR) + "/fuzz/corpus/loadgen_merge/echo_c2.json");
  ASSERT_TRUE(in) << "seed corpus file missing";
  const nlohmann::json good = nlohmann::json::parse(in);
  EXPECT_NO_THROW(from_json(good));
  auto with = [&](const nlohmann::json::json_pointer& at, const nlohmann::json& v) {
    nlohmann::json j = good;
    j[at] = v;
    return j;
  };
  using P = nlohmann::json::json_pointer;
  for (const auto& [at, v] : std::vector<std::pair<P, nlohmann::json>>{
           {P("/summary/requests"), 1e85},
           {P("/summary/sent"), 1e85},
           {P("/summary/lost/timeout"), -1},
           {P("/summary/errors/connect"), 2.5},
           {P("/summary/window/start_ns"), 1e300},
           {P("/timeseries/0/t_s"), 1e85},
           {P("/timeseries/0/t_s"), 1000000000},  // sizes a vector: bounded
       }) {
    EXPECT_THROW(from_json(with(at, v)), std::runtime_error) << at.to_string() << " = " << v.dump();
  }
}
