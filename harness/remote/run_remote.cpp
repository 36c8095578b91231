#include "harness/remote/run_remote.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "core/clock.h"
#include "harness/run/calibration.h"
#include "harness/run/process.h"
#include "harness/run/window.h"
#include "loadgen/result.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

// One loadgen on one client host, and what it has said so far.
struct Client {
  const Host* host;
  std::unique_ptr<Child> proc;
  std::string log;
  bool ready = false, started = false, ended = false;
  uint64_t start_ns = 0, end_ns = 0;
  std::string rest;  // its stdout after window_end: the result JSON
  long connections = 0;
};

std::vector<std::string> with_prefix(const Host& h, std::vector<std::string> argv) {
  if (!shares_pid_space(h) && !h.cpus.empty()) {
    // Pinned on the far side: the harness's affinity would pin the transport.
    std::string list;
    for (int c : h.cpus) list += (list.empty() ? "" : ",") + std::to_string(c);
    argv.insert(argv.begin(), {"taskset", "-c", list});
  }
  std::vector<std::string> out = h.prefix;
  out.insert(out.end(), argv.begin(), argv.end());
  out[0] = resolve_executable(out[0]);
  return out;
}

// The case's load shared out: connections, idle connections and the offered
// rate split evenly, the remainder to the first hosts.
CaseParams share(const CaseParams& p, size_t i, size_t n) {
  CaseParams q = p;
  auto part = [&](long total) { return total / static_cast<long>(n) + (static_cast<long>(i) < total % static_cast<long>(n)); };
  q.connections = part(p.connections);
  q.idle_connections = part(p.idle_connections);
  q.rate = p.rate / static_cast<double>(n);
  return q;
}

std::string who(const Client& c) { return "client " + c.host->name + " (" + c.host->address + ")"; }

}  // namespace

bool shares_pid_space(const Host& h) {
  if (h.prefix.empty()) return true;
  const std::string& cmd = h.prefix[0];
  bool ip = cmd == "ip" || (cmd.size() >= 3 && cmd.compare(cmd.size() - 3, 3, "/ip") == 0);
  return ip && h.prefix.size() >= 3 && h.prefix[1] == "netns" && h.prefix[2] == "exec";
}

namespace {

// Starts one loadgen per client host with its share of the load (a host
// whose share is empty sits out), each waiting at the start barrier; returns
// why one could not start, or "".
std::string start_clients(const CaseEnv& env, const Topology& topo, const CaseParams& p, const std::string& target,
                          std::vector<Client>& clients) {
  const size_t n = std::min(topo.clients.size(), static_cast<size_t>(std::max(1L, p.connections)));
  for (size_t i = 0; i < n; ++i) {
    const Host& h = topo.clients[i];
    CaseParams q = share(p, i, n);
    std::vector<std::string> a = loadgen_argv(env, q, target, "", 1);
    a[0] = h.bin_dir + "/loadgen";
    auto out = std::find(a.begin(), a.end(), "--output");
    if (out != a.end()) a.erase(out, out + 2);  // the JSON comes back on stdout
    a.push_back("--start-barrier");
    Client c{&h, nullptr, env.log_dir + "/loadgen-" + h.name + ".log"};
    c.connections = q.connections;
    SpawnOptions lo;
    lo.argv = with_prefix(h, a);
    lo.cpus = shares_pid_space(h) ? h.cpus : std::vector<int>{};
    lo.capture_stdout = true;
    lo.stdin_pipe = true;
    lo.stderr_path = c.log;
    try {
      c.proc = std::make_unique<Child>(lo);
    } catch (const std::exception& e) {
      return who(c) + ": transport failed to start: " + e.what();
    }
    clients.push_back(std::move(c));
  }
  return "";
}

// The barrier (every loadgen connected, then all released at once) and the
// common window: from the last loadgen's start to the first one's end.
// Returns what went wrong, or "".
std::string drive_clients(std::vector<Client>& clients, Child& srv, WindowSampler& window, const CaseParams& p,
                          const std::string& server_log) {
  const uint64_t t0 = now_ns();
  const uint64_t give_up = t0 + static_cast<uint64_t>((p.warmup_s + p.duration_s + 2 * p.timeout_s + 30) * 1e9);
  std::string problem;
  auto read_events = [&](Client& c) {
    while (!c.ended) {
      auto line = c.proc->read_line(1);
      if (!line) return;
      auto ev = parse_notify_line(*line);
      if (line->rfind("ready", 0) == 0) c.ready = true;
      if (!ev) continue;
      if (ev->first == "window_start") { c.started = true; c.start_ns = ev->second; }
      if (ev->first == "window_end") { c.ended = true; c.end_ns = ev->second; }
    }
    c.rest += c.proc->read_rest(1);  // keep the pipe flowing while it writes its JSON
  };

  bool released = false;
  for (;;) {
    bool all_exited = true, all_ready = true, all_started = true, any_ended = false;
    for (auto& c : clients) {
      read_events(c);
      bool gone = c.proc->poll_exit();
      all_exited = all_exited && gone;
      if (gone && !c.ready && problem.empty())
        problem = who(c) + ": loadgen or transport " + c.proc->describe_exit() + " before it was ready" +
                  last_line(c.log);
      all_ready = all_ready && c.ready;
      all_started = all_started && c.started;
      any_ended = any_ended || c.ended;
    }
    if (!problem.empty() || all_exited) break;
    if (srv.poll_exit()) {
      problem = "crashed during the case: " + srv.describe_exit() + last_line(server_log);
      break;
    }
    if (now_ns() >= give_up) {
      problem = "loadgens did not finish within their duration + 2 timeouts + 30 s";
      break;
    }
    if (!released && all_ready) {
      for (auto& c : clients) c.proc->write_stdin("go\n", true);
      released = true;
    }
    if (all_started && !window.start()) {
      uint64_t last = 0;
      for (auto& c : clients) last = std::max(last, c.start_ns);
      window.take_start(last);
    }
    if (any_ended && window.start() && !window.end()) {
      uint64_t first = UINT64_MAX;
      for (auto& c : clients)
        if (c.ended) first = std::min(first, c.end_ns);
      window.take_end(first);
    }
  }
  return problem;
}

// Each loadgen's JSON (read by the loadgen's own reader) to a file, merged by
// the local loadgen, then judged and recorded as a local run's.
CaseRun merge_and_record(const CaseEnv& env, std::vector<Client>& clients, const CaseParams& p, int round,
                         const std::string& stop_problem, const WindowSampler& window, json calibration,
                         const std::string& stats_path) {
  json parts = json::array();
  SpawnOptions mo;
  mo.argv = {env.loadgen_path, "merge"};
  mo.capture_stdout = true;
  mo.stderr_path = env.log_dir + "/loadgen.log";
  for (size_t i = 0; i < clients.size(); ++i) {
    Client& c = clients[i];
    c.rest += c.proc->read_rest(1000);
    if (!WIFEXITED(c.proc->raw_status()) || WEXITSTATUS(c.proc->raw_status()) != 0)
      return failed(who(c) + ": loadgen " + c.proc->describe_exit() + last_line(c.log));
    json j = json::parse(c.rest, nullptr, false);
    loadgen::RunResult part;
    try {
      part = loadgen::from_json(j);
    } catch (const std::exception& e) {
      return failed(who(c) + ": no valid result JSON came back over the transport (" + e.what() + ")");
    }
    const std::string file = env.tmp_dir + "/loadgen-" + std::to_string(i) + ".json";
    std::ofstream(file) << j.dump();  // scratch, read once by the merge below
    mo.argv.push_back(file);
    parts.push_back({{"host", c.host->name}, {"address", c.host->address}, {"connections", c.connections},
                     {"requests", part.requests}, {"histogram_count", part.corrected.count()},
                     {"window", part.window_end_ns ? json{{"start_ns", part.window_start_ns}, {"end_ns", part.window_end_ns}}
                                                   : json(nullptr)}});
  }
  Child merge(mo);
  std::string merged_text = merge.read_rest(30000);
  merge.wait_exit(5000);
  json merged = json::parse(merged_text, nullptr, false);
  if (merged.is_discarded()) return failed("loadgen merge gave no valid JSON");

  CaseRun r = record_repetition(std::move(merged), p, round, stop_problem, env.log_dir + "/loadgen.log",
                                window, true, std::move(calibration), stats_path);
  if (!r.rep.is_null()) {
    r.rep["clients"] = parts;
    r.rep["window"]["source"] = "loadgens_common";  // the last start and the first end
  }
  return r;
}

}  // namespace

CaseRun run_one_remote(const CaseEnv& env, const Topology& topo, const std::string& server,
                       const CaseParams& p, int round, bool snapshots,
                       const std::vector<std::string>& server_args) {
  const Host& sh = topo.server;
  if (!shares_pid_space(sh))
    return failed("server host " + sh.name + ": its transport runs it out of reach of the harness's "
                  "CPU clock and signals; only local or `ip netns exec` server hosts are supported");
  const std::string stats_path = env.tmp_dir + "/" + server + ".stats.json";
  const std::string server_log = env.log_dir + "/" + server + ".log";
  ::unlink(stats_path.c_str());
  std::vector<int> cpus = sh.cpus;
  for (const auto& c : topo.clients) cpus.insert(cpus.end(), c.cpus.begin(), c.cpus.end());
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  json calibration = env.calibration_ms > 0 ? calibrate_cpus(cpus, env.calibration_ms) : json::object();

  std::vector<std::string> argv = server_argv(sh.bin_dir + "/" + server, p, stats_path, server_args);
  argv.insert(argv.begin() + 1, {"--bind", sh.address});
  std::string target, why;
  auto server_child = start_server(with_prefix(sh, argv), sh.cpus, server_log, env.start_timeout_ms, &target, &why);
  if (!server_child) return failed(why);
  Child& srv = *server_child;

  std::vector<Client> clients;
  if (std::string problem = start_clients(env, topo, p, target, clients); !problem.empty()) return failed(problem);
  WindowSampler window(srv, snapshots, env.snapshot_timeout_ms);
  const std::string problem = drive_clients(clients, srv, window, p, server_log);
  if (!problem.empty()) {
    for (auto& c : clients) c.proc->kill_group();
    srv.kill_group();
    return failed(problem);
  }
  if (!window.end()) window.take_end(0);
  if (!window.start()) window.take_start(0);

  const std::string stop_problem = stop_server(srv, env.stop_timeout_ms, server_log);

  return merge_and_record(env, clients, p, round, stop_problem, window, std::move(calibration), stats_path);
}

}  // namespace iomodels::harness
