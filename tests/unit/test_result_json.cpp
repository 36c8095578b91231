// Result files read back (loadgen merge, the harness): hostile numbers are
// refused with an error, never converted with undefined behaviour. Found by
// the loadgen_merge fuzzer (a bucket count of 5.5e137).
#include <stdexcept>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "loadgen/result.h"

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
