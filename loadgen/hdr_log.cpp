#include "loadgen/hdr_log.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "core/version.h"
#include "loadgen/hdr_codec.h"

namespace iomodels::loadgen {
namespace {

std::string format(const char* f, double a, double b, double c) {
  char buf[128];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

// One line of the log: "Tag=T,start,length,max_ms,base64". The maximum is in
// milliseconds, as HdrHistogram's own writer puts it (its maxValueUnitRatio 1e6).
std::string interval_line(const std::string& tag, double start_s, double length_s, const Histogram& h) {
  return "Tag=" + tag + "," + format("%.3f,%.3f,%.3f,", start_s, length_s, static_cast<double>(h.max()) / 1e6) +
         hdr::base64_encode(hdr::encode_compressed(h)) + "\n";
}

}  // namespace

std::string default_hdr_tag(const RunResult& r) {
  const auto& c = r.config;
  std::string tag = c.value("protocol", std::string("echo")) + "/c" + std::to_string(c.value("connections", 0));
  if (c.value("protocol", std::string()) != "http") tag += "/s" + std::to_string(c.value("size", 0));
  if (r.target_rate > 0) tag += "/r" + std::to_string(static_cast<long long>(r.target_rate));
  return tag;
}

bool valid_hdr_tag(const std::string& tag) {
  if (tag.empty()) return false;
  for (char ch : tag)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && std::string("._-/:=").find(ch) == std::string::npos) return false;
  return true;
}

std::string interval_log(const RunResult& r, const std::string& tag, double start_epoch_s) {
  char date[64];
  const std::time_t t = static_cast<std::time_t>(start_epoch_s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%a %b %d %H:%M:%S UTC %Y", &tm);
  std::string out = std::string("#[iomodels loadgen ") + iomodels::git_sha() + ": " +
                    (r.target_rate > 0 ? "latency from the intended send time (corrected)" : "latency") +
                    ", nanoseconds, one interval a second of the measured window]\n";
  out += "#[Histogram log format version 1.3]\n";
  out += format("#[StartTime: %.3f (seconds since epoch), ", start_epoch_s, 0, 0) + date + "]\n";
  out += format("#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s, 0, 0);
  out += "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n";
  uint64_t in_series = 0;
  for (const auto& s : r.seconds) in_series += s.latency.count();
  if (r.seconds.empty() || in_series != r.corrected.count()) {
    out += interval_line(tag, 0.0, r.duration_s, r.corrected);
    return out;
  }
  for (size_t i = 0; i < r.seconds.size(); ++i) {
    // The last second may be cut short by --requests or the end of the window.
    const double start = static_cast<double>(i);
    const double length = std::clamp(r.duration_s - start, 0.0, 1.0);
    out += interval_line(tag, start, length > 0 ? length : 1.0, r.seconds[i].latency.expand());
  }
  return out;
}

std::string percentile_distribution(const Histogram& h, double ratio) {
  const hdr::Layout layout = hdr::our_layout();
  const int digits = Histogram::kSignificantDigits;
  const std::string value_f = "%12." + std::to_string(digits) + "f";
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
  out += line;
  const uint64_t total = h.count();
  double level = 0;  // HdrHistogram's PercentileIterator, 5 ticks per half distance
  auto next_level = [&] {
    const long long halvings = static_cast<long long>(std::log(100.0 / (100.0 - level)) / std::log(2.0));
    const long long ticks = 5 * static_cast<long long>(std::pow(2.0, static_cast<double>(halvings) + 1));
    level += 100.0 / static_cast<double>(ticks);
  };
  auto emit = [&](uint64_t value, double at, uint64_t count, bool last) {
    const double v = static_cast<double>(value) / ratio;
    if (last) std::snprintf(line, sizeof line, (value_f + " %2.12f %10llu\n").c_str(), v, at / 100.0,
                            static_cast<unsigned long long>(count));
    else std::snprintf(line, sizeof line, (value_f + " %2.12f %10llu %14.2f\n").c_str(), v, at / 100.0,
                       static_cast<unsigned long long>(count), 1.0 / (1.0 - at / 100.0));
    out += line;
  };
  uint64_t running = 0, top = 0;
  double sum = 0;
  const auto buckets = h.buckets();
  for (const auto& [lo, n] : buckets) {
    const size_t index = layout.index_of(lo);
    const uint64_t hi = layout.highest_equivalent(index);
    top = hi;
    sum += static_cast<double>(lo + (hi - lo + 1) / 2) * static_cast<double>(n);  // the bucket's median value
    running += n;
    const double reached = 100.0 * static_cast<double>(running) / static_cast<double>(total);
    while (reached >= level && running < total) {
      emit(hi, level, running, false);
      next_level();
    }
    if (running == total) {
      emit(hi, level, running, false);
      emit(hi, 100.0, running, true);
    }
  }
  const double mean = total ? sum / static_cast<double>(total) : 0;
  double sq = 0;
  for (const auto& [lo, n] : buckets) {
    const uint64_t hi = layout.highest_equivalent(layout.index_of(lo));
    const double d = static_cast<double>(lo + (hi - lo + 1) / 2) - mean;
    sq += d * d * static_cast<double>(n);
  }
  const double stdev = total ? std::sqrt(sq / static_cast<double>(total)) : 0;
  std::snprintf(line, sizeof line, ("#[Mean    = " + value_f + ", StdDeviation   = " + value_f + "]\n").c_str(),
                mean / ratio, stdev / ratio);
  out += line;
  std::snprintf(line, sizeof line, ("#[Max     = " + value_f + ", Total count    = %12llu]\n").c_str(),
                static_cast<double>(top) / ratio, static_cast<unsigned long long>(total));
  out += line;
  std::snprintf(line, sizeof line, "#[Buckets = %12zu, SubBuckets     = %12llu]\n",
                layout.bucket_count(Histogram::kHighestNs), 2ull << layout.sub_bucket_half_bits);
  out += line;
  return out;
}

bool looks_like_interval_log(const std::string& first_line) {
  return first_line.rfind("#[", 0) == 0 || first_line.rfind("\"StartTimestamp\"", 0) == 0 ||
         first_line.rfind("Tag=", 0) == 0;
}

RunResult read_interval_log(std::istream& in) {
  RunResult r;
  r.context = {{"source", "HdrHistogram interval log"}};
  r.config = nlohmann::json::object();
  nlohmann::json tags = nlohmann::json::array();
  double first = INFINITY, last = -INFINITY;
  std::string line;
  size_t number = 0, intervals = 0;
  constexpr double kMaxSpan = 7 * 24 * 3600.0;  // the timeseries is sized by it
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#' || line[0] == '"') continue;
    try {
      std::string rest = line;
      if (rest.rfind("Tag=", 0) == 0) {
        const size_t comma = rest.find(',');
        if (comma == std::string::npos) throw std::runtime_error("a tag without fields");
        const std::string tag = rest.substr(4, comma - 4);
        if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
        rest = rest.substr(comma + 1);
      }
      double start = 0, length = 0, max_ms = 0;
      int used = 0;
      if (std::sscanf(rest.c_str(), "%lf,%lf,%lf,%n", &start, &length, &max_ms, &used) != 3 || used == 0)
        throw std::runtime_error("expected StartTimestamp,Interval_Length,Interval_Max,Histogram");
      if (!(start >= 0 && start < 1e12 && length >= 0 && length <= kMaxSpan))
        throw std::runtime_error("timestamp or interval length out of range");
      Histogram h = hdr::to_histogram(hdr::decode(hdr::base64_decode(rest.substr(static_cast<size_t>(used)))));
      first = std::min(first, start);
      last = std::max(last, start + length);
      if (last - first > kMaxSpan) throw std::runtime_error("the intervals span more than a week");
      const size_t second = static_cast<size_t>(start - first);
      if (r.seconds.size() <= second) r.seconds.resize(second + 1);
      r.seconds[second].requests += h.count();
      r.seconds[second].latency.add(h);
      r.corrected.merge(h);
      ++intervals;
    } catch (const std::exception& e) {
      throw std::runtime_error("line " + std::to_string(number) + ": " + e.what());
    }
  }
  if (intervals == 0) throw std::runtime_error("no interval in the log");
  r.requests = r.corrected.count();
  r.duration_s = last - first;
  r.config["hdr_tags"] = tags;
  return r;
}

}  // namespace iomodels::loadgen
