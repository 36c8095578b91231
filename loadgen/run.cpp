#include "loadgen/run.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <system_error>
#include <thread>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/socket_util.h"
#include "loadgen/connector.h"
#include "loadgen/hdr_log.h"
#include "loadgen/report.h"
#include "loadgen/window.h"
#include "loadgen/worker.h"

namespace iomodels::loadgen {
namespace {

// The one piece of process state: SIGINT/SIGTERM end the run early, and the
// result of what was measured so far is still written.
std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

// Says 'ready' and blocks until the harness writes a line on stdin: every
// loadgen of a multi-host run then starts its clock at nearly the same
// moment. false on EOF or a stop signal (the harness gave up on the run).
bool wait_for_release(Notifier& notify) {
  notify.line("ready", now_ns());
  char c = 0;
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n == 1 && c == '\n') return true;
    if (n == 0) return false;
    if (n < 0 && (errno != EINTR || g_stop.load())) return false;
  }
}

void check_fd_budget(const Options& opt) {
  uint64_t limit = raise_nofile_limit();
  // Every connection is one fd; epoll sets, stdio, output files and a margin
  // for the runtime are the rest.
  uint64_t need = static_cast<uint64_t>(opt.connections) + static_cast<uint64_t>(opt.idle_connections) +
                  static_cast<uint64_t>(opt.threads) + 32;
  if (need <= limit) return;
  std::ostringstream m;
  m << "--" << (opt.idle_connections > 0 ? "idle-connections" : "connections") << ": "
    << opt.connections << " active + " << opt.idle_connections << " idle connections need about "
    << need << " file descriptors, but RLIMIT_NOFILE allows " << limit
    << " (raise the hard limit: ulimit -Hn, /etc/security/limits.conf)";
  throw UsageError(m.str());
}

}  // namespace

RunResult run_load(const Options& opt) {
  check_fd_budget(opt);
  g_stop.store(false);
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  Connector connector(opt);
  RunResult result;
  result.context = context_json();
  result.config = config_json(opt, connector.source_addresses());
  result.target_rate = opt.rate;

  // Idle connections first: they exist for the whole measured window.
  IdleSet idle;
  if (opt.idle_connections > 0)
    idle = open_idle_connections(opt, connector, opt.idle_connections, opt.timeout_s);
  result.idle.requested = static_cast<uint64_t>(opt.idle_connections);
  result.idle.opened = idle.fds.size();
  result.idle.failed = idle.failed;
  result.errors[ErrorKind::kConnect] += idle.failed;

  size_t nthreads = static_cast<size_t>(opt.threads);
  StartGate gate;
  gate.connecting.store(static_cast<int>(nthreads));
  std::vector<WorkerPlan> plans(nthreads);
  for (size_t w = 0; w < nthreads; ++w) {
    WorkerPlan& p = plans[w];
    p.opt = &opt;
    p.connector = &connector;
    p.gate = &gate;
    p.warmup_ns = static_cast<uint64_t>(opt.warmup_s * 1e9);
    p.duration_ns = static_cast<uint64_t>(opt.duration_s * 1e9);
    // Slots interleave across threads so each one's share of the schedule is even.
    for (uint64_t g = w; g < static_cast<uint64_t>(opt.connections); g += nthreads) p.slots.push_back(g);
    if (opt.requests) p.request_budget = opt.requests / nthreads + (w < opt.requests % nthreads ? 1 : 0);
    if (opt.requests && p.request_budget == 0) p.slots.clear();  // more threads than requests
  }
  std::vector<WorkerProgress> progress(nthreads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t w = 0; w < nthreads; ++w)
    workers.push_back(std::make_unique<Worker>(std::move(plans[w]), progress[w], g_stop));
  std::vector<std::exception_ptr> failures(nthreads);
  std::vector<std::thread> threads;
  for (size_t w = 0; w < nthreads; ++w)
    threads.emplace_back([&, w] {
      try {
        workers[w]->run();
      } catch (...) {
        failures[w] = std::current_exception();
        g_stop.store(true);
        workers[w]->leave_gate();
        progress[w].done.store(true);
      }
    });

  // Every worker has connected (or given up on) its connections, and the
  // server has accepted them: only now does the clock of the run start, so
  // neither the connects nor the server's accept storm land in the window.
  for (int left; (left = gate.connecting.load()) > 0;) gate.connecting.wait(left);
  if (!g_stop.load())
    result.accept_queue = settle_accept_queue(opt.addr, now_ns() + static_cast<uint64_t>(opt.timeout_s * 1e9));
  // The start barrier for several loadgens: after connects, before t0.
  Notifier notify(opt.notify_fd);
  if (opt.start_barrier && !g_stop.load() && !wait_for_release(notify)) g_stop.store(true);
  uint64_t t0 = now_ns();
  gate.t0_ns.store(t0, std::memory_order_release);
  gate.t0_ns.notify_all();
  uint64_t measure_start = t0 + static_cast<uint64_t>(opt.warmup_s * 1e9);
  uint64_t end = opt.duration_s > 0 ? measure_start + static_cast<uint64_t>(opt.duration_s * 1e9) : UINT64_MAX;

  bool started = false, ended = false;
  bool show = opt.progress == ProgressMode::kOn ||
              (opt.progress == ProgressMode::kAuto && ::isatty(STDERR_FILENO));
  uint64_t next_line = measure_start + 1'000'000'000;
  uint64_t last_requests = 0;
  for (;;) {
    bool all_done = true;
    for (auto& p : progress) all_done = all_done && p.done.load(std::memory_order_acquire);
    if (all_done) break;
    uint64_t now = now_ns();
    if (!started && now >= measure_start) {
      notify.line("window_start", measure_start);
      started = true;
    }
    if (started && !ended && now >= end) {
      notify.line("window_end", end);
      ended = true;
    }
    if (show && now >= next_line) {
      uint64_t req = 0, err = 0, p99 = 0;
      for (auto& p : progress) {
        req += p.requests.load(std::memory_order_relaxed);
        err += p.errors.load(std::memory_order_relaxed);
        p99 = std::max(p99, p.last_second_p99_ns.load(std::memory_order_relaxed));  // worst thread
      }
      double elapsed = static_cast<double>(now - measure_start) / 1e9;
      std::fprintf(stderr, "\r%s", progress_line(elapsed, static_cast<double>(req - last_requests), p99, err).c_str());
      std::fflush(stderr);
      last_requests = req;
      next_line += 1'000'000'000;
    }
    // Sleep to the next thing to do; the window's edges are announced on time.
    uint64_t wake = now + 50'000'000;
    if (!started) wake = std::min(wake, measure_start);
    else if (!ended) wake = std::min(wake, end);
    timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
    ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
  }
  for (auto& t : threads) t.join();
  if (show) std::fprintf(stderr, "\n");
  for (auto& f : failures)
    if (f) std::rethrow_exception(f);

  uint64_t measure_end = measure_start;
  for (auto& w : workers) {
    result.add_counters(w->stats());
    measure_end = std::max(measure_end, w->stats().measure_end_ns);
  }
  measure_end = std::min(measure_end, end);
  // Ended early (--requests, a stop signal, or during warmup): announced now.
  if (!started) notify.line("window_start", measure_start);
  if (!ended) notify.line("window_end", measure_end);
  result.window_start_ns = measure_start;
  result.window_end_ns = measure_end;
  result.duration_s = static_cast<double>(measure_end - measure_start) / 1e9;
  result.idle.closed_by_peer = count_closed(idle);
  return result;
}

// The HdrHistogram files asked for (--hdr-log, --hgrm). The log's StartTime
// is the wall-clock time of the window's start, taken back from now by the
// monotonic time since (the window is measured on CLOCK_MONOTONIC).
static void write_hdr_files(const Options& opt, const RunResult& r) {
  if (!opt.hdr_log.empty()) {
    timespec wall{};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    const double wall_now = static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) / 1e9;
    const double start = wall_now - static_cast<double>(now_ns() - r.window_start_ns) / 1e9;
    write_file_atomic(opt.hdr_log, interval_log(r, opt.hdr_tag.empty() ? default_hdr_tag(r) : opt.hdr_tag, start));
  }
  if (!opt.hgrm.empty()) write_file_atomic(opt.hgrm, percentile_distribution(r.corrected));
}

nlohmann::json merge_files(const std::vector<std::string>& paths) {
  RunResult merged;
  bool first = true;
  for (const auto& p : paths) {
    std::ifstream in(p);
    if (!in) throw std::runtime_error(p + ": cannot open");
    std::string first_line;
    if (std::getline(in, first_line) && looks_like_interval_log(first_line)) {
      in.seekg(0);
      RunResult r;
      try {
        r = read_interval_log(in);
      } catch (const std::exception& e) {
        throw std::runtime_error(p + ": " + e.what());
      }
      if (first) merged = std::move(r);
      else merged.merge(r);
      first = false;
      continue;
    }
    in.clear();
    in.seekg(0);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      throw std::runtime_error(p + ": " + e.what());
    }
    RunResult r;
    try {
      r = from_json(j);
    } catch (const std::exception& e) {
      throw std::runtime_error(p + ": " + e.what());
    }
    if (first) {
      merged = std::move(r);
      first = false;
    } else {
      merged.merge(r);
      merged.config["connections"] = merged.config.value("connections", 0) + r.config.value("connections", 0);
      merged.config["threads"] = merged.config.value("threads", 0) + r.config.value("threads", 0);
      merged.config["rate"] = merged.target_rate;
      merged.config["idle_connections"] =
          merged.config.value("idle_connections", 0) + r.config.value("idle_connections", 0);
    }
  }
  nlohmann::json out = to_json(merged);
  out["merged_from"] = paths;
  return out;
}

int loadgen_main(const std::vector<std::string>& args) {
  keep_standard_fds_open();
  try {
    if (!args.empty() && args[0] == "merge") {
      std::vector<std::string> files(args.begin() + 1, args.end());
      if (files.empty()) throw UsageError("merge: needs at least one result file");
      std::cout << merge_files(files).dump() << "\n";
      return 0;
    }
    ParsedCommand cmd = parse_options(args);
    if (cmd.exit_now) {
      std::cout << cmd.text;
      return 0;
    }
    RunResult r = run_load(cmd.options);
    std::cerr << human_summary(r);
    write_hdr_files(cmd.options, r);
    std::string text = to_json(r).dump() + "\n";
    if (cmd.options.output.empty()) std::cout << text << std::flush;
    else write_file_atomic(cmd.options.output, text);
    return 0;
  } catch (const UsageError& e) {
    std::cerr << "loadgen: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "loadgen: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace iomodels::loadgen
