// What a person sees: a progress line a second on a terminal, and a summary
// on stderr at the end. The JSON (result.h) is what programs read.
#pragma once
#include <cstdint>
#include <string>

#include "loadgen/result.h"

namespace iomodels::loadgen {

// "  3.0s  41234 req/s  p99 312us  errors 0" (no newline; the caller uses \r).
std::string progress_line(double elapsed_s, double req_per_s, uint64_t p99_ns, uint64_t errors);

// Several lines, wrk-like, ending with a newline.
std::string human_summary(const RunResult& r);

}  // namespace iomodels::loadgen
