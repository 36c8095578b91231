#include "harness/runner.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <system_error>
#include <utility>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "core/socket_util.h"
#include "harness/calibration.h"
#include "harness/case_record.h"
#include "harness/cost/callgrind_table.h"
#include "harness/cost/kernel_syscalls.h"
#include "harness/cost/round_cost.h"
#include "harness/paired.h"
#include "harness/process.h"
#include "harness/progress.h"
#include "harness/run_setup.h"
#include "harness/results.h"
#include "harness/resume.h"
#include "harness/run_case.h"
#include "harness/run_remote.h"
#include "harness/topology.h"
#include "harness/server_list.h"

namespace iomodels::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double planned_s(const CaseParams& p) { return p.warmup_s + p.duration_s + 0.3; }

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

json run_suite(const RunOptions& opt, std::string* out_dir_used) {
  Suite suite = load_suite(opt.suite_path);
  if (opt.repetitions > 0) suite.repetitions = opt.repetitions;
  const std::string bin_dir = opt.bin_dir.empty() ? self_dir() : opt.bin_dir;
  const std::string loadgen = opt.loadgen.empty() ? bin_dir + "/loadgen" : opt.loadgen;
  if (!is_executable(loadgen)) throw std::runtime_error("no loadgen executable at " + loadgen + " (build it, or pass --bin-dir)");

  std::vector<std::string> servers = suite.servers;
  if (!opt.servers.empty()) {
    const auto& known = known_servers();
    for (const auto& s : opt.servers)
      if (std::find(known.begin(), known.end(), s) == known.end())
        throw SuiteError("--servers: unknown server '" + s + "'");
    std::vector<std::string> picked;
    for (const auto& s : servers)
      if (std::find(opt.servers.begin(), opt.servers.end(), s) != opt.servers.end()) picked.push_back(s);
    servers = picked;
  }

  const auto allowed = allowed_cpus();
  std::string server_cpus = opt.server_cpus, loadgen_cpus = opt.loadgen_cpus;
  if (server_cpus.empty()) server_cpus = allowed.size() >= 2 ? std::to_string(allowed[0]) : join_cpus(allowed);
  if (loadgen_cpus.empty()) loadgen_cpus = allowed.size() >= 2 ? std::to_string(allowed[1]) : join_cpus(allowed);
  CaseEnv env;
  env.server_cpus = checked_cpus(server_cpus, "--server-cpus");
  env.loadgen_cpus = checked_cpus(loadgen_cpus, "--loadgen-cpus");
  env.loadgen_path = loadgen;
  env.start_timeout_ms = opt.start_timeout_ms;
  env.stop_timeout_ms = opt.stop_timeout_ms;
  env.calibration_ms = opt.calibration_ms;
  // Feature checks, so that an older loadgen or server (harness ab builds
  // old revisions) still runs: without --notify-fd the harness times the
  // window itself; a server without snapshots would die of SIGUSR1.
  env.loadgen_notify = help_mentions(loadgen, "--notify-fd");
  // Kernel-counted syscalls per round (--count-syscalls auto: where the
  // kernel lets us; on: also where it does not, said per round; off: never).
  // Decided once: the first counter registers 360 tracepoints (seconds).
  env.syscalls_unavailable = opt.count_syscalls == "off" ? "" : cost::kernel_syscalls_unavailable();
  env.count_syscalls = opt.count_syscalls == "every";
  std::map<std::string, bool> snapshots;

  const std::string out = opt.out_dir.empty() ? default_out_dir(suite.name) : opt.out_dir;
  if (out_dir_used) *out_dir_used = out;
  fs::create_directories(out + "/logs");
  env.log_dir = out + "/logs";
  env.tmp_dir = out + "/tmp";
  fs::create_directories(env.tmp_dir);
  // The list of the build that made this run, so plots of this folder keep its
  // colours and families after the build changes.
  fs::copy_file(server_list_path(), out + "/servers.json", fs::copy_options::overwrite_existing);

  // Remote topologies: the lab lives as long as the run; a signal removes it.
  std::unique_ptr<NetnsLab> lab;
  Topology topo;
  if (opt.topology == "netns") {
    set_fatal_signal_hook(&NetnsLab::remove_all_registered);
    lab = std::make_unique<NetnsLab>(opt.clients, parse_link(opt.link), bin_dir, env.server_cpus,
                                     env.loadgen_cpus, env.log_dir, opt.family == "ipv6" ? AF_INET6 : AF_INET);
    topo = lab->topology();
    if (topo.link_emulation == "delayline")
      std::cerr << "harness: --link " << opt.link << ": no sch_netem in this kernel, so the userspace delay line "
                << "emulates it (pid " << lab->delayline_pid() << ", CPUs " << loadgen_cpus
                << ", counters in " << env.log_dir << "/delayline.log)\n";
  } else if (opt.topology.rfind("hosts:", 0) == 0) {
    topo = load_hosts_file(opt.topology.substr(6));
  } else if (opt.family == "ipv6") {
    env.server_bind = "::1";
  }
  if (topo.remote() && !help_mentions(loadgen, "--start-barrier"))
    throw std::runtime_error(loadgen + " has no --start-barrier: a remote topology needs a newer loadgen");

  // A resumed run keeps what its first part wrote (context, finished cases).
  PriorRun prior;
  if (opt.resume) prior = load_prior_run(out);
  json run;
  run["schema"] = "iomodels.run/2";
  run["context"] = build_context(server_cpus, loadgen_cpus);
  run["context"]["topology"] = topo.kind;
  // What the clients connect over: the family of the address the server listens on.
  run["context"]["address_family"] = topo.remote() ? address_family(topo.server.address) : opt.family;
  run["context"]["kernel_syscalls"] = {
      {"counted", opt.count_syscalls != "off" && env.syscalls_unavailable.empty()},
      {"rounds", opt.count_syscalls == "every" ? "every timed round (the counters' cost is in the CPU figures)"
                                                : "a round of their own per case of groups with count_syscalls"},
      {"source", "perf_event_open on every syscalls:sys_enter_* tracepoint, per server thread (inherited)"},
      {"reason", opt.count_syscalls == "off" ? "--count-syscalls off" : env.syscalls_unavailable}};
  run["context"]["link"] = opt.link.empty() ? json(nullptr) : json(opt.link);
  run["context"]["link_params"] = topo.link.to_json();
  run["context"]["link_emulation"] = topo.link_emulation.empty() ? json(nullptr) : json(topo.link_emulation);
  if (topo.remote()) run["context"]["hosts"] = describe_hosts(topo);
  run["suite"] = {{"name", suite.name}, {"file", suite.file}, {"repetitions", suite.repetitions}};
  if (!suite.description.empty()) run["suite"]["description"] = suite.description;
  RunOptions saved = opt;
  saved.suite_path = fs::absolute(opt.suite_path).string();
  run["run_options"] = saved_run_options(saved);
  if (opt.resume) {
    json resumed = prior.run.value("resumed", json::array());
    resumed.push_back({{"date", run["context"]["date"]}, {"steps_done_before", prior.steps_done},
                       {"interrupted_by", prior.run["progress"].value("interrupted_by", "")}});
    run["context"] = prior.run["context"];
    run["resumed"] = resumed;
  }

  // One record per (case, server), in the order results are read: by case,
  // then by server. Execution order is different (see the loop below).
  struct Slot {
    json record;
    std::string path;  // executable; empty when skipped
    const CaseParams* params;
    std::vector<std::string> server_args;  // a variant's extra arguments
    std::vector<std::string> failures;
    int repetitions = 1;  // its group's rounds
    bool counted_round = false;  // one more round, with the kernel's syscall counters
  };
  std::vector<Slot> slots;
  std::map<std::string, size_t> by_name;
  // Pairs that really are pairs: a group that leaves the reference out (a
  // variant group) gets its own copy of it, first in each of its blocks, so
  // every model is compared with a reference run seconds before it in the
  // same round, never with one from another group minutes earlier.
  const std::string reference = "epoll_lt";
  const bool have_reference = std::find(servers.begin(), servers.end(), reference) != servers.end();
  for (const auto& c : suite.cases) {
    const auto& wanted = c.servers.empty() ? servers : c.servers;
    // --repetitions overrides every group's rounds, not just the suite's.
    const int reps = opt.repetitions > 0 ? opt.repetitions : c.repetitions > 0 ? c.repetitions : suite.repetitions;
    auto add_slot = [&](const CaseLabel& label, const std::vector<std::string>& args, const json& extra) {
      Slot slot;
      slot.params = &c.params;
      slot.server_args = args;
      slot.repetitions = reps;
      slot.counted_round = c.count_syscalls && opt.count_syscalls == "auto";
      slot.record = new_case_record(label, c.group, c.params, args);
      for (const auto& [k, v] : extra.items()) slot.record[k] = v;
      std::string path = bin_dir + "/" + label.server;
      if (is_executable(path)) {
        slot.path = path;
      } else {
        // The list says this server exists; a build without it is broken, not a smaller run.
        slot.record["status"] = "failed";
        slot.record["reason"] = "listed in servers.json but not built: no executable " + path;
      }
      by_name[slot.record["name"]] = slots.size();
      slots.push_back(std::move(slot));
    };
    if (have_reference && std::find(wanted.begin(), wanted.end(), reference) == wanted.end())
      add_slot({reference, "ref " + c.group, c.params.id(), ""}, {}, {{"role", "group_reference"}});
    for (const auto& s : servers) {
      if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) continue;
      for (const auto& args : c.variants(s)) add_slot(case_label(s, args, c.params), args, json::object());
    }
    // Last in the block: the farthest in time from the reference, so its
    // spread bounds what drift within a block can do to any model's ratio.
    if (c.aa && have_reference)
      // No slash in the variant: readers older than case_id split names at the first one.
      add_slot({reference, "aa", c.params.id(), ""}, {}, {{"aa", true}, {"role", "aa"}});
  }
  if (opt.resume) {
    // The finished part as it was written: records, statuses, failures.
    const json& before = prior.run["cases"];
    if (before.size() != slots.size())
      throw std::invalid_argument("--resume: the suite now gives " + std::to_string(slots.size()) +
                                  " cases, the interrupted run had " + std::to_string(before.size()));
    for (size_t k = 0; k < slots.size(); ++k) {
      if (before[k].value("name", "") != slots[k].record["name"])
        throw std::invalid_argument("--resume: case " + std::to_string(k) + " is now " +
                                    slots[k].record["name"].get<std::string>() + ", was " + before[k].value("name", "?"));
      // A part written before records carried case_id and variant gains them.
      const json fresh = std::exchange(slots[k].record, before[k]);
      slots[k].record["case_id"] = fresh["case_id"];
      slots[k].record["variant"] = fresh["variant"];
      slots[k].record.erase("aggregate");
      unmark_pending(slots[k].record);
      slots[k].failures = before[k].value("failures", std::vector<std::string>{});
    }
  }

  size_t steps_done = prior.steps_done;
  size_t steps_total = 0;
  for (const auto& s : slots) steps_total += s.path.empty() ? 0 : static_cast<size_t>(s.repetitions);
  auto write_outputs = [&] {
    // complete: false until the last step: an interrupted or crashed run says
    // so, and `--resume` knows where to go on.
    run["complete"] = steps_done == steps_total;
    run["progress"] = {{"steps_done", steps_done}, {"steps_total", steps_total}};
    if (interrupted()) run["progress"]["interrupted_by"] = signal_name(interrupted());
    json cases = json::array();
    for (auto& s : slots) {
      s.record["aggregate"] = aggregate_case(s.record["repetitions"]);
      if (s.record.contains("counted_rounds"))
        s.record["aggregate"]["kernel_syscalls_per_message"] = cost::aggregate_kernel_syscalls(s.record["counted_rounds"]);
      cases.push_back(s.record);
    }
    add_paired_ratios(cases);
    flag_calibration_outliers(cases);
    mark_pending(cases);
    run["cases"] = cases;
    write_file_atomic(out + "/run.json", run.dump(1) + "\n");
    write_file_atomic(out + "/gbench.json", to_gbench(run).dump(2) + "\n");
  };
  // One step: a harness error is that step's failure; a step cut short by our
  // own interrupt is not a result, so the run is written and stops there.
  auto run_step = [&](auto&& run) {
    CaseRun r;
    try {
      r = run();
    } catch (const std::exception& e) {
      r.status = "failed";
      r.reason = std::string("harness: ") + e.what();
    }
    if (interrupted()) {
      write_outputs();
      throw Interrupted();
    }
    return r;
  };

  size_t runnable = 0;
  double expected = 0;
  int rounds = suite.repetitions;
  for (const auto& s : slots)
    if (!s.path.empty()) {
      runnable += static_cast<size_t>(s.repetitions);
      expected += planned_s(*s.params) * s.repetitions;
      rounds = std::max(rounds, s.repetitions);
    }
  const size_t total = runnable;
  Progress progress(opt.progress, total, expected);

  write_outputs();  // from the start: a run.json that says "complete": false

  // Interleaved: rep → case → server, so slow drift of the machine lands on
  // every server alike instead of on whichever ran last.
  size_t i = 0;
  double done_expected = 0;
  for (int rep = 0; rep < rounds; ++rep) {
    for (auto& slot : slots) {
      if (slot.path.empty() || rep >= slot.repetitions) continue;
      if (i < prior.steps_done) {  // resumed: finished before the interrupt
        ++i;
        done_expected += planned_s(*slot.params);
        continue;
      }
      const std::string name = slot.record["name"];
      progress.show(i++, name + " rep " + std::to_string(rep + 1), done_expected);
      CaseRun r = run_step([&] {
        if (!snapshots.count(slot.path)) snapshots[slot.path] = help_mentions(slot.path, "SIGUSR1");
        return topo.remote()
                   ? run_one_remote(env, topo, slot.record["server"], *slot.params, rep, snapshots[slot.path],
                                    slot.server_args)
                   : run_one(env, slot.record["server"], slot.path, *slot.params, rep, snapshots[slot.path],
                             slot.server_args);
      });
      ++steps_done;
      done_expected += planned_s(*slot.params);
      if (!r.rep.is_null()) slot.record["repetitions"].push_back(std::move(r.rep));
      if (r.status != "ok") {
        // The case takes its worst repetition's status, and the first reason.
        slot.failures.push_back("rep " + std::to_string(rep + 1) + ": " + r.reason);
        slot.record["status"] = worse_status(slot.record["status"], r.status);
        slot.record["reason"] = slot.failures.front() +
            (slot.failures.size() > 1 ? " (+" + std::to_string(slot.failures.size() - 1) + " more)" : "");
        slot.record["failures"] = slot.failures;
        progress.note("harness: " + name + " " + r.status + ": " + slot.failures.back());
      }
    }
    write_outputs();  // after each round: an interrupted suite still leaves results
  }
  throw_if_interrupted();  // between the last step and here (the children are gone)
  // The counted rounds: after every timed one, kept apart (counted_rounds),
  // so the counters' cost never reaches a CPU figure or a ratio.
  CaseEnv counted_env = env;
  counted_env.count_syscalls = true;
  counted_env.calibration_ms = 0;
  for (auto& slot : slots) {
    if (slot.path.empty() || !slot.counted_round || topo.remote()) continue;
    const std::string name = slot.record["name"];
    progress.show(i < total ? i : total - 1, name + " counted round", done_expected);
    CaseRun r = run_step([&] {
      return run_one(counted_env, slot.record["server"], slot.path, *slot.params, rounds, snapshots[slot.path],
                     slot.server_args);
    });
    if (r.rep.is_null()) r.rep = {{"status", "failed"}, {"reason", r.reason}, {"round", rounds}};
    slot.record["counted_rounds"] = json::array({std::move(r.rep)});
  }
  progress.done();
  throw_if_interrupted();
  if (!suite.callgrind.is_null() && opt.callgrind) {
    // After the timed cases, as the micro-benchmarks: valgrind loads a CPU.
    cost::CostProbe base;
    base.loadgen_path = loadgen;
    base.server_cpus = env.server_cpus;
    base.loadgen_cpus = env.loadgen_cpus;
    base.log_dir = env.log_dir + "/callgrind";
    Progress cg_progress(opt.progress, 0, 0);
    run["callgrind"] = cost::callgrind_table(suite.callgrind, servers, bin_dir, base,
                                             [&](size_t k, size_t n, const std::string& what) {
                                               cg_progress.note_inline("callgrind " + std::to_string(k + 1) + "/" +
                                                                       std::to_string(n) + "  " + what);
                                             });
    cg_progress.done();
    if (!run["callgrind"].value("available", false))
      std::cerr << "harness run: callgrind table skipped: " << run["callgrind"].value("reason", "") << "\n";
  }
  std::error_code ec;
  fs::remove_all(env.tmp_dir, ec);
  write_outputs();
  if (suite.has_micro && opt.micro) {
    // After the cases, never between them: the micro-benchmarks load both CPUs.
    MicroOptions mo;
    mo.out_dir = out;
    mo.bin_dir = bin_dir;
    mo.min_time = suite.micro.value("min_time", "");
    mo.filter = suite.micro.value("filter", "");
    run_micro(mo);
    throw_if_interrupted();  // the micro-benchmarks were killed, not finished
  }
  return run;
}


}  // namespace iomodels::harness
