#include "harness/run_case.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "harness/process.h"
#include "harness/proc_sample.h"

namespace iomodels::harness {
namespace {

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

}  // namespace

CaseRun run_one(const CaseEnv& env, const std::string& server, const std::string& server_path,
                const CaseParams& p) {
  const std::string stats_path = env.tmp_dir + "/" + server + ".stats.json";
  const std::string loadgen_out = env.tmp_dir + "/loadgen.json";
  const std::string server_log = env.log_dir + "/" + server + ".log";
  const std::string loadgen_log = env.log_dir + "/loadgen.log";
  ::unlink(stats_path.c_str());
  ::unlink(loadgen_out.c_str());

  SpawnOptions so;
  so.argv = {server_path, "--port", "0", "--protocol", p.protocol, "--stats-file", stats_path};
  if (p.server_threads > 0) {
    so.argv.push_back("--threads");
    so.argv.push_back(std::to_string(p.server_threads));
  }
  so.cpus = env.server_cpus;
  so.capture_stdout = true;
  so.stderr_path = server_log;
  Child srv(so);

  // The first line that starts with "listening " carries ADDR:PORT; a server
  // may log before it, so a few other lines are tolerated.
  std::string target;
  for (int i = 0; i < 16 && target.empty(); ++i) {
    auto line = srv.read_line(env.start_timeout_ms);
    if (!line) {
      if (srv.wait_exit(100)) return failed("failed to start: " + srv.describe_exit() + last_line(server_log));
      return failed("failed to start: no 'listening' line within " + std::to_string(env.start_timeout_ms) + " ms");
    }
    if (line->rfind("listening ", 0) == 0) target = line->substr(10);
  }
  if (target.empty()) return failed("failed to start: no 'listening' line among its first 16 lines");

  SpawnOptions lo;
  lo.argv = {env.loadgen_path, "--target", target, "--protocol", p.protocol,
             "--connections", std::to_string(p.connections), "--threads", std::to_string(p.loadgen_threads),
             "--duration", num(p.duration_s), "--warmup", num(p.warmup_s), "--size", p.size,
             "--pipeline", std::to_string(p.pipeline), "--rate", num(p.rate),
             "--requests-per-connection", std::to_string(p.requests_per_connection),
             "--idle-connections", std::to_string(p.idle_connections), "--timeout", num(p.timeout_s),
             "--output", loadgen_out, "--progress", "off"};
  lo.cpus = env.loadgen_cpus;
  lo.stdout_to_null = true;
  lo.stderr_path = loadgen_log;

  // The measured window is the loadgen's: warmup_s after it starts, for
  // duration_s. Both samples are taken on the harness's clock at those two
  // moments rather than at the loadgen's exit, so that the loadgen's teardown
  // (closing every connection, which ends a thread per connection in
  // blocking_threads and takes its switch counts along) stays outside. The
  // window is shifted by the loadgen's start-up (exec and connect, a few ms)
  // against the loadgen's own; its length is the same.
  const uint64_t t0 = now_ns();
  Child lg(lo);
  const uint64_t sample_at = t0 + static_cast<uint64_t>(p.warmup_s * 1e9);
  const uint64_t sample_end_at = sample_at + static_cast<uint64_t>(p.duration_s * 1e9);
  // Generous: the loadgen is trusted to stop itself; this only bounds a hang.
  const uint64_t give_up = t0 + static_cast<uint64_t>((p.warmup_s + p.duration_s + p.timeout_s + 15) * 1e9);
  std::optional<CpuSample> before, after;
  std::string crash;
  while (!lg.poll_exit()) {
    uint64_t now = now_ns();
    if (!before && now >= sample_at) before = sample_cpu(srv.pid());
    if (before && !after && now >= sample_end_at) after = sample_cpu(srv.pid());
    if (srv.poll_exit()) {
      crash = "crashed during the case: " + srv.describe_exit() + last_line(server_log);
      break;
    }
    if (now >= give_up) {
      lg.kill_group();
      srv.kill_group();
      return failed("loadgen did not finish within its duration + timeout + 15 s");
    }
    srv.drain_stdout();
    // Wake at the next sample time exactly, else every 5 ms to notice the
    // loadgen's exit: the harness shares the two CPUs, so it polls gently.
    uint64_t next = now + 5'000'000;
    if (!before) next = std::min(next, sample_at);
    else if (!after) next = std::min(next, sample_end_at);
    if (next > now) ::usleep(static_cast<useconds_t>((next - now) / 1000));
  }
  if (!after) after = sample_cpu(srv.pid());  // the loadgen stopped early (or --requests)
  if (crash.empty() && srv.poll_exit()) crash = "crashed during the case: " + srv.describe_exit() + last_line(server_log);
  if (!crash.empty()) {
    lg.kill_group();
    return failed(crash);
  }
  if (!before) before = after;  // warmup longer than the run: an empty window

  // Stop: SIGTERM, then a bounded wait; the server writes its stats on the way out.
  srv.signal(SIGTERM);
  std::string stop_problem;
  if (!srv.wait_exit(env.stop_timeout_ms)) {
    srv.kill_group();
    stop_problem = "hung on stop: still running " + std::to_string(env.stop_timeout_ms) + " ms after SIGTERM, killed";
  } else if (!WIFEXITED(srv.raw_status()) || WEXITSTATUS(srv.raw_status()) != 0) {
    stop_problem = "bad exit on SIGTERM: " + srv.describe_exit() + last_line(server_log);
  }

  if (!WIFEXITED(lg.raw_status()) || WEXITSTATUS(lg.raw_status()) != 0)
    return failed("loadgen " + lg.describe_exit() + last_line(loadgen_log));
  auto lg_json = read_json(loadgen_out);
  if (!lg_json || !lg_json->contains("summary")) return failed("loadgen wrote no valid JSON to " + loadgen_out);
  if (!stop_problem.empty()) return failed(stop_problem);

  const json& summary = (*lg_json)["summary"];
  const double requests = summary.value("requests", 0.0);
  if (requests <= 0) return failed("no request completed" + last_line(loadgen_log));
  const double mismatches = summary.contains("errors") ? summary["errors"].value("mismatch", 0.0) : 0.0;
  if (mismatches > 0) return failed(num(mismatches) + " replies did not match what was sent");

  CpuSample d = after && before ? *after - *before : CpuSample{};
  // Switch counts sum live threads only: one that exited inside the window
  // takes its count along, so a difference can dip below zero.
  d.voluntary_ctxt_switches = std::max(0LL, d.voluntary_ctxt_switches);
  d.involuntary_ctxt_switches = std::max(0LL, d.involuntary_ctxt_switches);
  CaseRun r;
  r.ok = true;
  r.rep["loadgen"] = std::move(*lg_json);
  r.rep["server_cpu"] = {{"user_s", d.user_s}, {"sys_s", d.sys_s},
                         {"us_per_request", (d.user_s + d.sys_s) * 1e6 / requests},
                         {"voluntary_ctxt_switches", d.voluntary_ctxt_switches},
                         {"involuntary_ctxt_switches", d.involuntary_ctxt_switches}};
  auto stats = read_json(stats_path);
  r.rep["server_stats"] = stats ? *stats : json(nullptr);
  return r;
}

}  // namespace iomodels::harness
