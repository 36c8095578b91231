#include "harness/run/run_case.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "harness/cost/kernel_syscalls.h"
#include "harness/cost/round_cost.h"
#include "harness/run/calibration.h"
#include "harness/run/case_record.h"
#include "harness/run/process.h"
#include "harness/run/window.h"

namespace iomodels::harness {

using nlohmann::json;

std::string num(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

// The last non-empty line of a log, to make a failure reason say something.
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  if (last.size() > 200) last = last.substr(0, 200) + "...";
  return last.empty() ? "" : " (log: " + last + ")";
}

std::optional<json> read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  try {
    return json::parse(in);
  } catch (const json::parse_error&) {
    return std::nullopt;
  }
}

CaseRun failed(std::string why) {
  CaseRun r;
  r.reason = std::move(why);
  return r;
}

namespace {

struct Pipe {
  int rd = -1, wr = -1;
  Pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    rd = p[0];
    wr = p[1];
  }
  ~Pipe() {
    if (rd >= 0) ::close(rd);
    if (wr >= 0) ::close(wr);
  }
  void close_write() {
    ::close(wr);
    wr = -1;
  }
};

}  // namespace

std::vector<std::string> loadgen_argv(const CaseEnv& env, const CaseParams& p, const std::string& target,
                                      const std::string& out, int notify_fd) {
  std::vector<std::string> a = {env.loadgen_path, "--target", target};
  const std::vector<std::string> params = p.loadgen_args();
  a.insert(a.end(), params.begin(), params.end());
  a.insert(a.end(), {"--output", out, "--progress", "off"});
  if (notify_fd >= 0) a.insert(a.end(), {"--notify-fd", std::to_string(notify_fd)});
  return a;
}

std::vector<std::string> server_argv(const std::string& path, const CaseParams& p, const std::string& stats_path,
                                     const std::vector<std::string>& server_args) {
  std::vector<std::string> a = {path, "--port", "0", "--protocol", p.protocol, "--stats-file", stats_path};
  if (p.server_threads > 0) a.insert(a.end(), {"--threads", std::to_string(p.server_threads)});
  a.insert(a.end(), server_args.begin(), server_args.end());
  return a;
}

namespace {

std::string await_listening(Child& srv, int timeout_ms, const std::string& log, std::string* why) {
  // The first line that starts with "listening " carries ADDR:PORT; a server
  // may log before it, so a few other lines are tolerated.
  for (int i = 0; i < 16; ++i) {
    auto line = srv.read_line(timeout_ms);
    if (!line) {
      *why = srv.wait_exit(100) ? "failed to start: " + srv.describe_exit() + last_line(log)
                                : "failed to start: no 'listening' line within " + std::to_string(timeout_ms) + " ms";
      return "";
    }
    if (line->rfind("listening ", 0) == 0) return line->substr(10);
  }
  *why = "failed to start: no 'listening' line among its first 16 lines";
  return "";
}

}  // namespace

std::unique_ptr<Child> start_server(std::vector<std::string> argv, const std::vector<int>& cpus,
                                    const std::string& log, int timeout_ms, std::string* target, std::string* why) {
  SpawnOptions so;
  so.argv = std::move(argv);
  so.cpus = cpus;
  so.capture_stdout = true;
  so.stderr_path = log;
  auto srv = std::make_unique<Child>(so);
  *target = await_listening(*srv, timeout_ms, log, why);
  if (target->empty()) return nullptr;
  return srv;
}

std::string stop_server(Child& srv, int timeout_ms, const std::string& log) {
  // SIGTERM, then a bounded wait; the server writes its stats on the way out.
  srv.signal(SIGTERM);
  if (!srv.wait_exit(timeout_ms)) {
    srv.kill_group();
    return "stop timeout: still running " + std::to_string(timeout_ms) + " ms after SIGTERM, killed with SIGKILL";
  }
  if (!WIFEXITED(srv.raw_status()) || WEXITSTATUS(srv.raw_status()) != 0)
    return "bad exit on SIGTERM: " + srv.describe_exit() + last_line(log);
  return "";
}

bool help_mentions(const std::string& exe, const std::string& needle) {
  try {
    SpawnOptions so;
    so.argv = {exe, "--help"};
    so.capture_stdout = true;
    so.stderr_path = "/dev/null";
    Child c(so);
    bool found = false;
    while (auto line = c.read_line(5000))
      if (line->find(needle) != std::string::npos) found = true;
    c.wait_exit(2000);
    return found;
  } catch (const std::exception&) {
    return false;
  }
}

CaseRun run_one(const CaseEnv& env, const std::string& server, const std::string& server_path,
                const CaseParams& p, int round, bool snapshots, const std::vector<std::string>& server_args) {
  const std::string stats_path = env.tmp_dir + "/" + server + ".stats.json";
  const std::string loadgen_out = env.tmp_dir + "/loadgen.json";
  const std::string server_log = env.log_dir + "/" + server + ".log";
  const std::string loadgen_log = env.log_dir + "/loadgen.log";
  ::unlink(stats_path.c_str());
  ::unlink(loadgen_out.c_str());

  // Before the server starts, so that it measures the host, not the case.
  std::vector<int> cpus = env.server_cpus;
  cpus.insert(cpus.end(), env.loadgen_cpus.begin(), env.loadgen_cpus.end());
  json calibration = env.calibration_ms > 0 ? calibrate_cpus(cpus, env.calibration_ms) : json::object();

  std::string target, why;
  std::vector<std::string> argv = server_argv(server_path, p, stats_path, server_args);
  if (!env.server_bind.empty()) argv.insert(argv.begin() + 1, {"--bind", env.server_bind});
  auto server_child = start_server(std::move(argv), env.server_cpus, server_log, env.start_timeout_ms, &target, &why);
  if (!server_child) return failed(why);
  Child& srv = *server_child;
  // Attached once the server listens, before the loadgen connects; only the
  // window's difference is kept, so the accepts before it stay out.
  std::unique_ptr<cost::KernelSyscallCounter> kernel;
  std::string kernel_why = env.count_syscalls ? env.syscalls_unavailable : "not asked (--count-syscalls off)";
  if (env.count_syscalls && kernel_why.empty()) {
    try {
      kernel = std::make_unique<cost::KernelSyscallCounter>(srv.pid());
    } catch (const std::exception& e) {
      kernel_why = e.what();
    }
  }

  Pipe notify;
  SpawnOptions lo;
  lo.argv = loadgen_argv(env, p, target, loadgen_out, env.loadgen_notify ? notify.wr : -1);
  lo.cpus = env.loadgen_cpus;
  lo.stdout_to_null = true;
  lo.stderr_path = loadgen_log;
  if (env.loadgen_notify) lo.inherit_fds = {notify.wr};

  const uint64_t t0 = now_ns();
  Child lg(lo);
  notify.close_write();  // EOF on our end once the loadgen is gone
  NotifyReader reader(notify.rd);
  WindowSampler window(srv, snapshots, env.snapshot_timeout_ms, kernel.get());
  // Without announcements the window is timed from the loadgen's start:
  // warmup_s after it, for duration_s, shifted by its start-up (exec,
  // connects, idle connections) against the loadgen's own.
  const uint64_t timer_start = t0 + static_cast<uint64_t>(p.warmup_s * 1e9);
  const uint64_t timer_end = timer_start + static_cast<uint64_t>(p.duration_s * 1e9);
  // Generous: the loadgen is trusted to stop itself; this only bounds a hang.
  const uint64_t give_up = t0 + static_cast<uint64_t>((p.warmup_s + p.duration_s + p.timeout_s + 15) * 1e9);
  std::string crash;
  auto server_gone = [&] {
    crash = "crashed during the case: " + srv.describe_exit() + last_line(server_log);
  };
  while (!lg.poll_exit()) {
    const uint64_t now = now_ns();
    if (srv.poll_exit()) {
      server_gone();
      break;
    }
    if (now >= give_up) {
      lg.kill_group();
      srv.kill_group();
      return failed("loadgen did not finish within its duration + timeout + 15 s");
    }
    if (env.loadgen_notify) {
      // Short waits: the loadgen's exit is noticed by polling, not by the pipe.
      while (auto line = reader.next(5)) {
        auto ev = parse_notify_line(*line);
        if (!ev) continue;
        bool alive = true;
        if (ev->first == "window_start" && !window.start()) alive = window.take_start(ev->second);
        if (ev->first == "window_end" && window.start() && !window.end()) alive = window.take_end(ev->second);
        if (!alive) break;
      }
      continue;
    }
    if (!window.start() && now >= timer_start) window.take_start(0);
    if (window.start() && !window.end() && now >= timer_end) window.take_end(0);
    uint64_t next = now + 5'000'000;
    if (!window.start()) next = std::min(next, timer_start);
    else if (!window.end()) next = std::min(next, timer_end);
    if (next > now) ::usleep(static_cast<useconds_t>((next - now) / 1000));
  }
  // A window_end the loop had no turn to read before the loadgen exited.
  while (auto line = reader.next(0)) {
    auto ev = parse_notify_line(*line);
    if (ev && ev->first == "window_end" && window.start() && !window.end() && !srv.poll_exit())
      window.take_end(ev->second);
  }
  const bool announced = window.start() && window.start()->announced_ns != 0;
  if (crash.empty() && srv.poll_exit()) server_gone();
  if (!crash.empty()) {
    lg.kill_group();
    return failed(crash);
  }
  // The loadgen stopped before a timed window closed (--requests), or never
  // announced one: the window ends now.
  if (!window.end()) window.take_end(0);
  if (!window.start() && window.end()) window.take_start(0);  // empty window

  const std::string stop_problem = stop_server(srv, env.stop_timeout_ms, server_log);

  if (!WIFEXITED(lg.raw_status()) || WEXITSTATUS(lg.raw_status()) != 0)
    return failed("loadgen " + lg.describe_exit() + last_line(loadgen_log));
  auto lg_json = read_json(loadgen_out);
  if (!lg_json) return failed("loadgen wrote no valid JSON to " + loadgen_out);

  CaseRun r = record_repetition(std::move(*lg_json), p, round, stop_problem, loadgen_log, window, announced,
                                std::move(calibration), stats_path);
  if (!r.rep.is_null()) {
    const CpuWindow cw = window.start() && window.end() ? cpu_window(window.start()->cpu, window.end()->cpu) : CpuWindow{};
    cost::add_saturation_labels(r.rep, static_cast<double>(cw.cpu_ns), static_cast<double>(cw.span_ns),
                                env.server_cpus.size());
    cost::add_kernel_syscalls(r.rep, window.start() ? window.start()->kernel : std::nullopt,
                              window.end() ? window.end()->kernel : std::nullopt, kernel_why);
  }
  return r;
}

// Runs at least this long keep the loadgen's per-second series in run.json.
constexpr double kSeriesFromSeconds = 10;

CaseRun record_repetition(json lg_json, const CaseParams& p, int round, const std::string& stop_problem,
                          const std::string& loadgen_log, const WindowSampler& window, bool announced,
                          json calibration, const std::string& stats_path) {
  loadgen::RunResult result;
  try {
    result = loadgen::from_json(lg_json);
  } catch (const std::exception& e) {  // runtime_error, and json's own for a missing or mistyped field
    return failed(std::string("loadgen result refused: ") + e.what());
  }
  RepVerdict verdict = judge_repetition(result, p);
  if (!stop_problem.empty()) {
    verdict.status = "failed";
    verdict.reason = stop_problem + (verdict.reason.empty() ? "" : "; " + verdict.reason);
  }
  if (verdict.status == "failed" && result.requests == 0) verdict.reason += last_line(loadgen_log);

  CpuWindow cw = window.start() && window.end() ? cpu_window(window.start()->cpu, window.end()->cpu) : CpuWindow{};
  // Requests answered inside the sampled span: the loadgen's rate over its
  // own window times the span the harness sampled (nearly the same window;
  // for a timed window, shifted by the loadgen's start-up).
  double requests = result.requests_per_s() * static_cast<double>(cw.span_ns) / 1e9;
  if (requests <= 0) requests = static_cast<double>(result.requests);

  CaseRun r;
  r.status = verdict.status;
  r.reason = verdict.reason;
  json& rep = r.rep;
  rep["round"] = round;
  rep["repetition"] = round;
  rep["status"] = verdict.status;
  rep["reason"] = verdict.reason;
  rep["flags"] = verdict.flags;
  rep["window"] = window.describe(announced ? "loadgen" : "harness_timer");
  // Sampled more than 10% of the window's length after the loadgen's marks
  // (a starved harness): the server-side figures cover another stretch.
  if (announced && window.end() && window.end()->announced_ns > window.start()->announced_ns) {
    const double length = static_cast<double>(window.end()->announced_ns - window.start()->announced_ns);
    const double late = std::fabs(static_cast<double>(window.start()->cpu.taken_ns) -
                                  static_cast<double>(window.start()->announced_ns)) +
                        std::fabs(static_cast<double>(window.end()->cpu.taken_ns) -
                                  static_cast<double>(window.end()->announced_ns));
    rep["flags"]["window_late"] = late > 0.1 * length;
  }
  rep["calibration"] = calibration;
  rep["server_cpu"] = server_cpu_json(cw, requests);
  // A harness starved long enough to sample both ends after the loadgen had
  // stopped measured an idle server over a sliver of time (0.3 ms of 400 in
  // a default run's cost group): per-request CPU from it reads 0. It is left
  // out of every CPU figure, the round's other figures stay.
  if (static_cast<double>(cw.span_ns) < 0.5e9 * p.duration_s) {
    json& cpu = rep["server_cpu"];
    for (const char* k : {"us_per_request", "ns_per_request", "tick_us_per_request"}) cpu.erase(k);
    cpu["unusable"] = "the harness sampled the server's CPU over " + std::to_string(cw.span_ns / 1000) +
                      " us of the " + std::to_string(static_cast<long>(p.duration_s * 1e6)) + " us window";
  }
  rep["server_stats_window"] =
      window.start() && window.end() ? stats_delta(window.start()->stats, window.end()->stats) : json(nullptr);
  rep["cost_per_message"] = cost_per_message(rep["server_stats_window"], static_cast<double>(cw.cpu_ns), requests);
  auto stats = read_json(stats_path);
  rep["server_stats"] = stats ? *stats : json(nullptr);
  // run.json keeps what its readers use. A per-second series of a run of a
  // few seconds says nothing the summary does not, and in a closed loop the
  // uncorrected latency equals the latency and the schedule lag is empty:
  // kept, they made a default run's run.json 857 MB (rewritten after every
  // round, then loaded whole by the plots). Long runs (soak) keep the series;
  // open-loop runs keep both histograms.
  if (p.duration_s < kSeriesFromSeconds) lg_json.erase("timeseries");
  if (p.rate <= 0) lg_json.erase("histograms");
  rep["loadgen"] = std::move(lg_json);
  return r;
}

}  // namespace iomodels::harness
