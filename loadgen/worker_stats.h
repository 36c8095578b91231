// What one worker thread measured. Each worker owns one of these outright (no
// sharing, no atomics on the request path); the runner merges them at the end.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "core/histogram.h"
#include "core/histogram_compact.h"

namespace iomodels::loadgen {

enum class ErrorKind { kConnect, kReset, kTimeout, kMismatch, kClosed, kHttpStatus, kCount };
constexpr std::array<const char*, static_cast<size_t>(ErrorKind::kCount)> kErrorNames = {
    "connect", "reset", "timeout", "mismatch", "closed", "http_status"};

struct ErrorCounts {
  std::array<uint64_t, static_cast<size_t>(ErrorKind::kCount)> n{};
  uint64_t& operator[](ErrorKind k) noexcept { return n[static_cast<size_t>(k)]; }
  uint64_t operator[](ErrorKind k) const noexcept { return n[static_cast<size_t>(k)]; }
  uint64_t total() const noexcept {
    uint64_t t = 0;
    for (auto v : n) t += v;
    return t;
  }
  void add(const ErrorCounts& o) noexcept {
    for (size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
  }
};

// Why requests that were sent never got their reply. A mismatch (or an
// unparseable stream) makes us close the connection, which loses the rest.
enum class LostCause { kTimeout, kReset, kClosed, kMismatch, kEndOfRun, kCount };
constexpr std::array<const char*, static_cast<size_t>(LostCause::kCount)> kLostNames = {
    "timeout", "reset", "closed", "mismatch", "end_of_run"};

struct LostCounts {
  std::array<uint64_t, static_cast<size_t>(LostCause::kCount)> n{};
  uint64_t& operator[](LostCause k) noexcept { return n[static_cast<size_t>(k)]; }
  uint64_t operator[](LostCause k) const noexcept { return n[static_cast<size_t>(k)]; }
  uint64_t total() const noexcept {
    uint64_t t = 0;
    for (auto v : n) t += v;
    return t;
  }
  void add(const LostCounts& o) noexcept {
    for (size_t i = 0; i < n.size(); ++i) n[i] += o.n[i];
  }
};

// One second of the measured window (timeseries); the histogram is kept so
// that merged runs recompute p50/p99 per second instead of averaging them.
// Compact: a worker fills one full histogram for the second under way and
// folds it in here when the second ends (see CompactHistogram for why).
struct SecondStats {
  uint64_t requests = 0;
  uint64_t errors = 0;
  CompactHistogram latency;       // corrected latency, ns
  CompactHistogram schedule_lag;  // send - intended, ns, of the sends made in this second
};

// How the loadgen kept (or failed to keep) its own open-loop schedule. The
// send lag itself is a histogram (WorkerStats::schedule_lag).
struct ScheduleStats {
  uint64_t late_dispatches = 0;   // our own loop noticed a due time > threshold late
  uint64_t max_dispatch_lag_ns = 0;
  uint64_t deferred_sends = 0;    // sent more than the threshold after their intended time
  uint64_t unsent_at_end = 0;     // fell due before the end, never handed to a connection
  uint64_t due = 0;               // open loop: requests due in the window (= sent + unsent)

  void add(const ScheduleStats& o) noexcept {
    late_dispatches += o.late_dispatches;
    deferred_sends += o.deferred_sends;
    unsent_at_end += o.unsent_at_end;
    due += o.due;
    if (o.max_dispatch_lag_ns > max_dispatch_lag_ns) max_dispatch_lag_ns = o.max_dispatch_lag_ns;
  }
};

struct ConnectionStats {
  uint64_t opened = 0;            // successful connects (all phases)
  uint64_t closed_by_client = 0;  // churn (--requests-per-connection) and end of run
  uint64_t closed_by_server = 0;  // EOF or reset from the peer
  uint64_t closed_after_error = 0;// timeout, mismatch: we closed to start clean

  void add(const ConnectionStats& o) noexcept {
    opened += o.opened;
    closed_by_client += o.closed_by_client;
    closed_by_server += o.closed_by_server;
    closed_after_error += o.closed_after_error;
  }
};

// Every request of the window ends in exactly one of: a good reply
// (requests), a bad reply (errors.mismatch / http_status), lost (sent, never
// answered) or unsent (due, never sent). Latency histograms hold the good
// replies and, as lower bounds (now - start), the lost ones.
struct WorkerStats {
  Histogram corrected;    // reply time - intended time (open loop) or send time (closed)
  Histogram uncorrected;  // reply time - send time
  Histogram connect;      // connect() → writable
  Histogram schedule_lag; // send time - intended time, every request sent in the window
  uint64_t requests = 0;  // good replies to requests of the measured window
  uint64_t sent = 0;      // requests of the window whose first byte went out
  uint64_t unsent = 0;    // requests of the window never sent (open loop: due, not sent)
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  LostCounts lost;          // requests of the window sent and never answered, by cause
  ErrorCounts errors;       // every phase: errors are never excluded
  ScheduleStats schedule;
  ConnectionStats conns;
  std::vector<SecondStats> seconds;
  double cpu_user_s = 0;  // this thread over the measured window
  double cpu_sys_s = 0;
  // This thread's CPU time (CLOCK_THREAD_CPUTIME_ID) over its part of the
  // window, and that part's length: their ratio says whether it was saturated.
  uint64_t window_cpu_ns = 0;
  uint64_t window_wall_ns = 0;
  uint64_t measure_end_ns = 0;  // when this worker stopped sending
};

}  // namespace iomodels::loadgen
