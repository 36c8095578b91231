// HdrHistogram's text formats for a loadgen result:
//  - the interval log (.hlog, "Histogram log format version 1.3"): one line a
//    second of the measured window, each the corrected-latency histogram of
//    that second in nanoseconds, compressed (hdr_codec.h) and tagged with the
//    case; what HistogramLogProcessor, HdrHistogram's plotter page and
//    hdr-histogram-js read;
//  - the percentile distribution (.hgrm) that wrk2 --latency and
//    HistogramLogProcessor print, values in microseconds (HistogramLogProcessor's
//    -outputValueUnitRatio 1000).
#pragma once
#include <istream>
#include <string>

#include "core/histogram.h"
#include "loadgen/result.h"

namespace iomodels::loadgen {

// "echo/c10/s64" (+ "/r20000" in open loop) from the result's config: the
// tag each interval line carries unless --hdr-tag names another.
std::string default_hdr_tag(const RunResult& r);

// True for a tag HdrHistogram's log readers take back unchanged: not empty,
// and only letters, digits and . _ - / : = (no comma, no space).
bool valid_hdr_tag(const std::string& tag);

// The interval log of r's timeseries. start_epoch_s: wall-clock time of the
// window's start (the log's StartTime and BaseTime); interval timestamps are
// seconds from it. When the timeseries does not add up to r.corrected (a
// result merged from runs without one), the log holds one interval of the
// whole window instead.
std::string interval_log(const RunResult& r, const std::string& tag, double start_epoch_s);

// The percentile distribution of h, HdrHistogram's outputPercentileDistribution
// with 5 ticks per half distance.
std::string percentile_distribution(const Histogram& h, double value_unit_ratio = 1000.0);

// Reads an interval log (ours or any V2 one, values taken as nanoseconds)
// as a result: every interval added into the latency histogram and into the
// timeseries second it starts in; requests = recorded values; duration = the
// span of the intervals. Throws std::runtime_error naming the line at fault.
RunResult read_interval_log(std::istream& in);

// True when the text starts like an interval log (a "#[" header, the legend
// or a "Tag=" line) rather than JSON.
bool looks_like_interval_log(const std::string& first_line);

}  // namespace iomodels::loadgen
