// Worker: one thread, one epoll loop, its own connections and statistics
// (wrk's shape). The request path is send/recv/epoll_pwait2 and clock reads:
// one per batch of events (when replies were seen) and one right before each
// send call (when requests went out); nothing on it allocates or takes a lock.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "loadgen/client_conn.h"
#include "loadgen/connector.h"
#include "loadgen/options.h"
#include "loadgen/schedule.h"
#include "loadgen/worker_stats.h"

namespace iomodels::loadgen {

// The run starts in two steps: every worker connects its connections and
// counts itself out of `connecting`; then the runner (after the idle
// connections, the server's accept queue, and any barrier of its own) stores
// t0 and notifies. Warmup and window follow from t0 (WorkerPlan).
struct StartGate {
  std::atomic<int> connecting{0};
  std::atomic<uint64_t> t0_ns{0};  // 0 until the runner starts the run
};

struct WorkerPlan {
  const Options* opt = nullptr;
  const Connector* connector = nullptr;
  StartGate* gate = nullptr;
  std::vector<uint64_t> slots;     // global slot ids, ascending
  uint64_t request_budget = 0;     // measured requests this worker may send; 0 = no limit
  uint64_t warmup_ns = 0;
  uint64_t duration_ns = 0;        // 0: no time limit
  // Set from the gate when the run starts:
  uint64_t t0_ns = 0;              // start of warmup (and of the open-loop schedule)
  uint64_t measure_start_ns = 0;   // t0 + warmup
  uint64_t end_ns = UINT64_MAX;    // measure_start + duration (or none)
};

// Read by the runner's progress line; written by the worker every
// housekeeping tick (relaxed stores: approximate by design, never on the request path).
struct WorkerProgress {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> last_second_p99_ns{0};
  std::atomic<bool> done{false};
};

// Late by more than this (intended → dispatched, or intended → sent) is
// counted as behind schedule. Loop batching costs tens of µs; a millisecond
// is an order of magnitude beyond that and still far below any stall we hunt.
constexpr uint64_t kLateThresholdNs = 1'000'000;

class Worker {
 public:
  Worker(WorkerPlan plan, WorkerProgress& progress, const std::atomic<bool>& stop);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  void run();  // the thread body; returns when its part of the run is over
  // Counts this worker out of the gate's `connecting` (once; also called by
  // the runner when the worker failed before getting there).
  void leave_gate() noexcept;
  WorkerStats& stats() noexcept { return stats_; }

 private:
  // worker.cpp: the loop and the sockets
  void connect_phase();
  void wait_for_start();
  void poll_once(uint64_t deadline);
  void open(ClientConn& c, uint64_t now);
  void on_connected(ClientConn& c, uint64_t now);
  void on_event(ClientConn& c, uint32_t events, uint64_t now);
  void read_replies(ClientConn& c, uint64_t now);
  void refill(ClientConn& c, uint64_t now);
  void build(ClientConn& c, uint64_t intended);
  void flush(ClientConn& c);
  void set_want_out(ClientConn& c, bool on);
  void fail(ClientConn& c, ErrorKind kind, uint64_t now, bool count = true);
  void drop_socket(ClientConn& c);
  void dispatch_due(uint64_t now);
  bool may_send(uint64_t intended, bool check_budget) const noexcept;
  bool churn_allows(const ClientConn& c) const noexcept;
  // worker_account.cpp: what the measurements say
  void stamp_sent(ClientConn& c, uint64_t t);
  void record_reply(const InFlight& f, ReplyOutcome outcome, uint64_t now);
  void lose_inflight(ClientConn& c, LostCause cause, uint64_t now);
  void count_error(ErrorKind kind, uint64_t now);
  void housekeeping(uint64_t now);
  void stop_sending(uint64_t now);
  void finish(uint64_t now);
  void window_cpu_start();
  void window_cpu_end();
  bool measuring(uint64_t t) const noexcept { return t >= plan_.measure_start_ns && t < plan_.end_ns; }
  SecondStats& second_of(uint64_t t);
  void fold_live_second();
  void read_cpu(double& user, double& sys) const;

  WorkerPlan plan_;
  const Options& opt_;
  WorkerProgress& progress_;
  const std::atomic<bool>& stop_;
  WorkerStats stats_;
  std::vector<ClientConn> conns_;
  std::vector<char> scratch_;     // recv buffer, one per worker
  std::vector<ReplyOutcome> outcomes_;  // per on_bytes call, reused
  std::vector<uint32_t> touched_; // open loop: connections with newly due requests
  std::vector<uint8_t> touched_flag_;
  int epfd_ = -1;
  uint64_t now_ = 0;              // time of the current batch (when its events were seen)
  uint64_t serial_ = 0;           // sockets opened, picks the source address
  bool started_ = false;          // the gate opened: requests may go out
  bool left_gate_ = false;
  size_t connecting_ = 0;         // sockets with a connect in progress
  bool sending_ = true;
  bool done_ = false;
  uint64_t budget_used_ = 0;
  uint64_t last_reply_ns_ = 0;
  uint64_t drain_deadline_ = 0;
  uint64_t next_housekeeping_ = 0;
  uint64_t timeout_ns_ = 0;
  // Open loop cursor: the slot whose next request falls due first.
  OpenLoopSchedule schedule_;
  size_t cursor_ = 0;
  uint64_t cursor_k_ = 0;
  uint64_t next_due_ns_ = UINT64_MAX;
  // CPU at the start of the measured window.
  bool cpu_started_ = false;
  bool cpu_ended_ = false;
  double cpu_user0_ = 0, cpu_sys0_ = 0;
  uint64_t thread_cpu0_ns_ = 0;
  uint64_t wall0_ns_ = 0;
  // The second under way (index into stats_.seconds) and its full histograms,
  // folded into that second's compact ones when a later second begins.
  size_t live_second_ = 0;
  Histogram live_latency_;
  Histogram live_lag_;
};

}  // namespace iomodels::loadgen
