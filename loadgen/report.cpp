#include "loadgen/report.h"

#include <cstdio>

namespace iomodels::loadgen {
namespace {

std::string fmt_us(uint64_t ns) {
  char b[32];
  if (ns >= 10'000'000) std::snprintf(b, sizeof b, "%.1fms", static_cast<double>(ns) / 1e6);
  else std::snprintf(b, sizeof b, "%.1fus", static_cast<double>(ns) / 1e3);
  return b;
}

std::string latency_line(const char* name, const Histogram& h) {
  char b[256];
  std::snprintf(b, sizeof b, "  %-22s p50 %9s  p90 %9s  p99 %9s  p99.9 %9s  max %9s  (n=%llu)\n",
                name, fmt_us(h.value_at_percentile(50)).c_str(),
                fmt_us(h.value_at_percentile(90)).c_str(), fmt_us(h.value_at_percentile(99)).c_str(),
                fmt_us(h.value_at_percentile(99.9)).c_str(), fmt_us(h.max()).c_str(),
                static_cast<unsigned long long>(h.count()));
  return b;
}

}  // namespace

std::string progress_line(double elapsed_s, double req_per_s, uint64_t p99_ns, uint64_t errors) {
  char b[160];
  std::snprintf(b, sizeof b, "%6.1fs %10.0f req/s  p99 %9s  errors %llu", elapsed_s, req_per_s,
                fmt_us(p99_ns).c_str(), static_cast<unsigned long long>(errors));
  return b;
}

std::string human_summary(const RunResult& r) {
  const auto& c = r.config;
  std::string s;
  char b[512];
  std::snprintf(b, sizeof b, "loadgen: %s %s, %d connections, %d threads, %s\n",
                c.value("target", "").c_str(), c.value("protocol", "").c_str(),
                c.value("connections", 0), c.value("threads", 0),
                r.target_rate > 0 ? ("open loop " + std::to_string(static_cast<long long>(r.target_rate)) + " req/s").c_str()
                                  : ("closed loop, pipeline " + std::to_string(c.value("pipeline", 1))).c_str());
  s += b;
  double d = r.duration_s > 0 ? r.duration_s : 1e-9;
  double cpu = r.cpu_user_s + r.cpu_sys_s;
  std::snprintf(b, sizeof b,
                "  %llu requests in %.2fs: %.0f req/s, %.2f MiB/s received; loadgen CPU %.2fs (%.2f us/request)\n",
                static_cast<unsigned long long>(r.requests), r.duration_s,
                static_cast<double>(r.requests) / d,
                static_cast<double>(r.bytes_received) / d / 1048576.0, cpu,
                r.requests ? cpu * 1e6 / static_cast<double>(r.requests) : 0.0);
  s += b;
  s += latency_line(r.target_rate > 0 ? "latency (intended)" : "latency", r.corrected);
  if (r.target_rate > 0) s += latency_line("latency (uncorrected)", r.uncorrected);
  if (r.connect.count()) s += latency_line("connect", r.connect);
  std::snprintf(b, sizeof b,
                "  errors: connect %llu, reset %llu, timeout %llu, mismatch %llu, closed %llu, http_status %llu",
                static_cast<unsigned long long>(r.errors[ErrorKind::kConnect]),
                static_cast<unsigned long long>(r.errors[ErrorKind::kReset]),
                static_cast<unsigned long long>(r.errors[ErrorKind::kTimeout]),
                static_cast<unsigned long long>(r.errors[ErrorKind::kMismatch]),
                static_cast<unsigned long long>(r.errors[ErrorKind::kClosed]),
                static_cast<unsigned long long>(r.errors[ErrorKind::kHttpStatus]));
  s += b;
  s += "\n";
  if (r.lost.total() || r.unsent) {
    std::snprintf(b, sizeof b,
                  "  lost (sent, never answered): %llu (timeout %llu, reset %llu, closed %llu, mismatch %llu, "
                  "end of run %llu); unsent: %llu\n",
                  static_cast<unsigned long long>(r.lost.total()),
                  static_cast<unsigned long long>(r.lost[LostCause::kTimeout]),
                  static_cast<unsigned long long>(r.lost[LostCause::kReset]),
                  static_cast<unsigned long long>(r.lost[LostCause::kClosed]),
                  static_cast<unsigned long long>(r.lost[LostCause::kMismatch]),
                  static_cast<unsigned long long>(r.lost[LostCause::kEndOfRun]),
                  static_cast<unsigned long long>(r.unsent));
    s += b;
  }
  if (r.schedule_lag.count()) s += latency_line("send lag (vs intended)", r.schedule_lag);
  if (r.thread_cpu_max > 0.9)
    s += "  WARNING: a loadgen thread was busy over 90% of the window: the loadgen may be the bottleneck\n";
  if (r.target_rate > 0) {
    std::snprintf(b, sizeof b,
                  "  schedule: %llu dispatches and %llu sends over 1ms late (max %s / %s), %llu due never sent\n",
                  static_cast<unsigned long long>(r.schedule.late_dispatches),
                  static_cast<unsigned long long>(r.schedule.deferred_sends),
                  fmt_us(r.schedule.max_dispatch_lag_ns).c_str(),
                  fmt_us(r.schedule_lag.max()).c_str(),
                  static_cast<unsigned long long>(r.schedule.unsent_at_end));
    s += b;
    if (r.schedule.late_dispatches)
      s += "  WARNING: the loadgen itself fell behind its schedule (CPU starved?): latencies include its delay\n";
    if (r.schedule.unsent_at_end)
      s += "  WARNING: requests fell due but were never sent: the offered rate was not met\n";
  }
  if (r.conns.closed_by_client || r.conns.closed_by_server || r.conns.closed_after_error) {
    std::snprintf(b, sizeof b,
                  "  connections: %llu opened, %llu closed by us (%s), %llu by the server, %llu after errors\n",
                  static_cast<unsigned long long>(r.conns.opened),
                  static_cast<unsigned long long>(r.conns.closed_by_client),
                  c.value("close_mode", "fin").c_str(),
                  static_cast<unsigned long long>(r.conns.closed_by_server),
                  static_cast<unsigned long long>(r.conns.closed_after_error));
    s += b;
  }
  if (r.idle.requested) {
    std::snprintf(b, sizeof b, "  idle: %llu of %llu opened, %llu closed by the server by the end\n",
                  static_cast<unsigned long long>(r.idle.opened),
                  static_cast<unsigned long long>(r.idle.requested),
                  static_cast<unsigned long long>(r.idle.closed_by_peer));
    s += b;
  }
  return s;
}

}  // namespace iomodels::loadgen
