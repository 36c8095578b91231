// A repetition's "loadgen" part for tests that build runs by hand: only the
// figures the harness reads from it (loadgen::stored_figures), under the
// names loadgen::to_json writes, spelled here once for all those tests.
#pragma once
#include <nlohmann/json.hpp>

#include "loadgen/result.h"

namespace iomodels::test {

inline nlohmann::json loadgen_figures(double requests_per_s, double p50_us, double p99_us) {
  return {{"summary", {{loadgen::json_field::kRequestsPerS, requests_per_s}}}, {"latency_us", {{"p50", p50_us}, {"p99", p99_us}}}};
}

}  // namespace iomodels::test
