#include "harness/gate/ab.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <iostream>
#include <ostream>

#include "core/atomic_file.h"
#include "core/clock.h"
#include "harness/gate/ab_baseline.h"
#include "harness/cost/kernel_syscalls.h"
#include "harness/gate/ab_build.h"
#include "harness/gate/ab_deterministic.h"
#include "harness/gate/ci_reports.h"
#include "harness/pages/compare_page.h"
#include "harness/run/case_record.h"
#include "harness/run/process.h"
#include "harness/run/results.h"
#include "harness/run/run_case.h"
#include "harness/run/runner.h"
#include "harness/run/server_list.h"
#include "harness/run/suite.h"

#ifndef IOMODELS_AB_SOURCE_DIR
#define IOMODELS_AB_SOURCE_DIR "."
#endif

namespace iomodels::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// One side of the comparison: a build folder, its servers, its run document.
struct Side {
  const char* name;  // "base" | "head"
  Revision rev;
  std::vector<std::string> listed;  // its servers.json; empty: unknown (a bare --*-bin folder)
  CaseEnv env;
  json run;
  std::map<std::string, bool> snapshots;  // server path -> answers SIGUSR1 with stats
  bool lists(const std::string& s) const {
    return listed.empty() || std::find(listed.begin(), listed.end(), s) != listed.end();
  }
};

struct Slot {
  std::string name, server, group;
  const CaseParams* params;
  std::vector<std::string> server_args;  // a suite variant's extra arguments
  json record[2];  // base, head
  std::vector<std::string> failures[2];
  bool runnable = true;
};

// The case takes its worst repetition's status and the first reason, as in `harness run`.
void record_problem(Slot& s, int side, int rep, const std::string& status, const std::string& why) {
  s.failures[side].push_back("rep " + std::to_string(rep + 1) + ": " + why);
  json& r = s.record[side];
  r["status"] = worse_status(r["status"], status);
  r["reason"] = s.failures[side].front() +
                (s.failures[side].size() > 1 ? " (+" + std::to_string(s.failures[side].size() - 1) + " more)" : "");
  r["failures"] = s.failures[side];
}

Revision bin_revision(const std::string& dir, const char* what) {
  Revision r;
  r.spec = r.label = dir + " (" + what + " build)";
  r.bin_dir = dir;
  return r;
}

std::vector<std::string> listed_servers(const std::string& bin_dir) {
  std::vector<std::string> names;
  if (!fs::exists(bin_dir + "/servers.json")) return names;
  for (const auto& s : read_server_list(bin_dir + "/servers.json")) names.push_back(s.name);
  return names;
}

// ab.html beside ab.json: the verdict as a page, for a CI job to publish. A
// page that cannot be made is said, and changes no verdict.
void write_ab_page(const std::string& out_dir, std::ostream& out) {
  try {
    render_compare_page(out_dir + "/ab.json", out_dir + "/ab.html", "");
  } catch (const std::exception& e) {
    out << "harness ab: no ab.html: " << e.what() << "\n";
  }
}

// ab.junit.xml and ab.md (and the dashboard files asked for) beside ab.json;
// like the page, one that cannot be written is said and changes no verdict.
void write_reports(const AbOptions& opt, const std::string& out_dir, const json& doc, const json& head_run,
                   std::ostream& out) {
  try {
    write_ab_reports(out_dir, doc, head_run, opt.bencher_path, opt.benchmark_action_path);
  } catch (const std::exception& e) {
    out << "harness ab: reports not written: " << e.what() << "\n";
  }
}

}  // namespace

std::array<int, 2> round_order(int round) {
  return round % 2 == 0 ? std::array<int, 2>{0, 1} : std::array<int, 2>{1, 0};
}

namespace {

// One slot per (case, server, variant) of the suite, on the servers both
// builds list; a server new in head is skipped (nothing to compare it with).
std::vector<Slot> plan_ab_slots(const Suite& suite, const AbOptions& opt, const Side& base) {
  std::vector<Slot> slots;
  for (const auto& c : suite.cases) {
    const auto& wanted = c.servers.empty() ? suite.servers : c.servers;
    for (const auto& s : suite.servers) {
      if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) continue;
      if (!opt.servers.empty() && std::find(opt.servers.begin(), opt.servers.end(), s) == opt.servers.end()) continue;
      for (const auto& args : c.variants(s)) {
        // The fixed-load tier's cases carry the tier in their name, so that
        // Perf-accepted globs (and the tables) tell the tiers apart.
        CaseLabel label = case_label(s, args, c.params);
        if (c.group == "fixed-load") label.tier = "fixed-load";
        Slot slot{label.name(), s, c.group, &c.params, args, {}, {}, true};
        for (int i = 0; i < 2; ++i) slot.record[i] = new_case_record(label, c.group, c.params, args);
        if (!base.lists(s)) {  // new in head: nothing to compare it with, so not measured
          slot.runnable = false;
          slot.record[1]["status"] = "skipped";
          slot.record[1]["reason"] = "not in base's server list";
        }
        slots.push_back(std::move(slot));
      }
    }
  }

  return slots;
}

// base/run.json and head/run.json: after the rounds, or at an interrupt
// with the rounds finished so far ("complete": false).
void write_ab_runs(Side (&sides)[2], std::vector<Slot>& slots, const std::string& out_dir, bool complete) {
  const Side& base = sides[0];
  for (int i = 0; i < 2; ++i) {
    json cases = json::array();
    for (auto& slot : slots) {
      if (i == 0 && !base.lists(slot.server)) continue;
      slot.record[i]["aggregate"] = aggregate_case(slot.record[i]["repetitions"]);
      cases.push_back(slot.record[i]);
    }
    if (!complete) mark_pending(cases);
    sides[i].run["cases"] = cases;
    sides[i].run["complete"] = complete;
    write_file_atomic(out_dir + "/" + sides[i].name + "/run.json", sides[i].run.dump(1) + "\n");
    std::error_code ec;
    fs::remove_all(sides[i].env.tmp_dir, ec);
  }
}

// The deterministic tier (and the baseline tier of --against-baseline):
// their verdicts by tier name; --write-baseline writes head's costs.
json deterministic_tiers(const AbOptions& opt, const std::vector<Slot>& slots, const Side& base, const Side& head,
                         const JudgeOptions& judge, const std::string& out_dir, std::ostream& out) {
  json tiers = json::object();
  json head_costs;
  if (opt.deterministic || !opt.against_baseline.empty() || !opt.write_baseline.empty()) {
    std::vector<std::string> servers;
    for (const auto& slot : slots)
      if (slot.runnable && std::find(servers.begin(), servers.end(), slot.server) == servers.end())
        servers.push_back(slot.server);
    DeterministicPlan plan = opt.deterministic_plan;
    plan.server_cpus = head.env.server_cpus;
    plan.loadgen_cpus = head.env.loadgen_cpus;
    const uint64_t t0 = now_ns();
    out << "harness ab: deterministic tier: " << servers.size() << " servers\n";
    if (opt.deterministic || !opt.against_baseline.empty()) {
      DeterministicTier tier = run_deterministic_tier(plan, opt.deterministic ? base.rev.bin_dir : "", head.rev.bin_dir,
                                                      servers, judge.accepted, out_dir, out);
      head_costs = tier.head_costs;
      if (opt.deterministic) tiers["deterministic"] = tier.verdict;
    }
    const std::string cpu = cpu_identity();  // the key of a baseline file
    if (!opt.against_baseline.empty()) {
      const auto [bl, file] = pick_baseline(opt.against_baseline, cpu);
      const auto again = [&](const std::vector<std::string>& which) {
        out << "harness ab: baseline tier: " << which.size() << " server(s) flagged, measuring head again ";
        DeterministicPlan p = plan;
        p.log_dir = out_dir + "/head/logs/baseline-again";
        return measure_deterministic(head.rev.bin_dir, which, p, out);
      };
      tiers["baseline"] = judge_against_baseline(bl, head_costs, cpu, servers, judge.accepted, again);
      tiers["baseline"]["baseline"]["file"] = file;
    }
    if (!opt.write_baseline.empty()) {
      // Two more runs of head, side by side: the figures they disagree on are kept as unavailable.
      auto [first, second] = measure_deterministic_twice(plan, head.rev.bin_dir, servers,
                                                         out_dir + "/head/logs/baseline", out);
      write_file_atomic(opt.write_baseline,
                        baseline_document(first, second, head.rev.sha, cpu, plan).dump(1) + "\n");
      out << "harness ab: wrote " << opt.write_baseline << "\n";
    }
    out << "harness ab: deterministic tier took " << (now_ns() - t0) / 1'000'000'000 << " s\n";
  }
  return tiers;
}

// The rounds: every runnable slot on both sides, A B in even rounds and B A
// in odd ones. An interrupt writes both runs as they are and throws Interrupted.
template <typename WriteRuns>
void run_ab_rounds(const AbOptions& opt, int repetitions, Side (&sides)[2], std::vector<Slot>& slots,
                   WriteRuns&& write_runs) {
  const bool tty = opt.progress && ::isatty(STDERR_FILENO);
  for (int rep = 0; rep < repetitions; ++rep) {
    for (size_t k = 0; k < slots.size(); ++k) {
      Slot& slot = slots[k];
      if (!slot.runnable) continue;
      if (tty) std::cerr << "\r\033[Kround " << rep + 1 << "/" << repetitions << ", case " << k + 1 << "/" << slots.size() << " " << slot.name << std::flush;
      // A B in even rounds, B A in odd ones: a steady drift within a pair
      // favours each side equally often.
      for (int i : round_order(rep)) {
        Side& side = sides[i];
        const std::string path = side.rev.bin_dir + "/" + slot.server;
        CaseRun r;
        if (::access(path.c_str(), X_OK) != 0) {
          r.reason = "listed but not built: no executable " + path;
        } else {
          try {
            if (!side.snapshots.count(path)) side.snapshots[path] = help_mentions(path, "SIGUSR1");
            r = run_one(side.env, slot.server, path, *slot.params, rep, side.snapshots[path], slot.server_args);
          } catch (const std::exception& e) {
            r.status = "failed";
            r.reason = std::string("harness: ") + e.what();
          }
        }
        if (interrupted()) {  // this run was cut by us: not a result
          if (tty) std::cerr << "\r\033[K";
          write_runs(false);
          throw Interrupted();
        }
        if (!r.rep.is_null()) {
          // When it ran, so that the order can be checked from the records (tests/ab).
          r.rep["ab_finished_ns"] = now_ns();
          slot.record[i]["repetitions"].push_back(std::move(r.rep));
        }
        if (r.status != "ok") record_problem(slot, i, rep, r.status, r.reason);
      }
    }
  }
  if (tty) std::cerr << "\r\033[K";
}

}  // namespace

int run_ab(const AbOptions& opt, std::ostream& out) {
  const uint64_t started = now_ns();
  Suite suite = load_suite(opt.suite_path);
  if (opt.repetitions > 0) suite.repetitions = opt.repetitions;
  const std::string out_dir = opt.out_dir.empty() ? default_out_dir("ab-" + suite.name) : opt.out_dir;
  fs::create_directories(out_dir);

  BuildSettings bs;
  bs.source_dir = opt.source_dir.empty() ? IOMODELS_AB_SOURCE_DIR : opt.source_dir;
  bs.reference_build = self_dir();
  bs.work_dir = opt.work_dir.empty() ? self_dir() + "/ab" : opt.work_dir;
  bs.log_path = fs::absolute(out_dir + "/build.log").string();
  bs.servers = opt.servers;

  Side sides[2] = {{"base", {}, {}, {}, {}, {}}, {"head", {}, {}, {}, {}, {}}};
  Side& base = sides[0];
  Side& head = sides[1];
  head.rev = !opt.head_bin.empty()     ? bin_revision(opt.head_bin, "head")
             : opt.head == "worktree" ? worktree_revision(bs, self_dir())
                                      : build_revision(bs, opt.head, false);
  try {
    if (!opt.base_bin.empty()) {
      base.rev = bin_revision(opt.base_bin, "base");
    } else {
      out << "harness ab: building base " << opt.base << " (log: " << bs.log_path << ")\n" << std::flush;
      base.rev = build_revision(bs, opt.base, true);
    }
  } catch (const NoComparableBase& e) {
    throw_if_interrupted();  // a build we killed is not a base that does not build
    out << "harness ab: no comparable base: " << e.what() << "\n"
        << "harness ab: nothing gated; this is not a failure (head " << head.rev.label << ")\n";
    json doc = {{"schema", "iomodels.ab/1"}, {"comparable", false}, {"reason", e.what()},
                {"base", {{"spec", opt.base}}}, {"head", {{"spec", head.rev.spec}, {"sha", head.rev.sha}}}};
    write_file_atomic(out_dir + "/ab.json", doc.dump(1) + "\n");
    write_ab_page(out_dir, out);
    write_reports(opt, out_dir, doc, json::object(), out);
    return 0;
  }

  JudgeOptions judge = opt.judge;
  if (opt.trailers)
    for (const auto& a : parse_perf_accepted(head.rev.message)) judge.accepted.push_back(a);

  const auto allowed = allowed_cpus();
  auto pick = [&](const std::string& given, size_t i) {
    if (!given.empty()) return parse_cpu_list(given);
    return allowed.size() >= 2 ? std::vector<int>{allowed[i]} : allowed;
  };
  for (Side& s : sides) {
    s.listed = listed_servers(s.rev.bin_dir);
    s.env.server_cpus = pick(opt.server_cpus, 0);
    s.env.loadgen_cpus = pick(opt.loadgen_cpus, 1);
    s.env.loadgen_path = s.rev.bin_dir + "/loadgen";
    s.env.start_timeout_ms = opt.start_timeout_ms;
    s.env.stop_timeout_ms = opt.stop_timeout_ms;
    s.env.log_dir = out_dir + "/" + s.name + "/logs";
    s.env.tmp_dir = out_dir + "/" + s.name + "/tmp";
    fs::create_directories(s.env.log_dir);
    fs::create_directories(s.env.tmp_dir);
    s.env.calibration_ms = opt.calibration_ms;
    if (::access(s.env.loadgen_path.c_str(), X_OK) != 0)
      throw std::runtime_error(std::string(s.name) + ": no loadgen at " + s.env.loadgen_path);
    s.env.loadgen_notify = help_mentions(s.env.loadgen_path, "--notify-fd");
    s.env.count_syscalls = opt.count_syscalls == "both" || opt.count_syscalls == s.name;
    if (s.env.count_syscalls) s.env.syscalls_unavailable = cost::kernel_syscalls_unavailable();
    s.run = {{"schema", "iomodels.run/2"},
             {"context", build_context(opt.server_cpus.empty() ? std::to_string(s.env.server_cpus[0]) : opt.server_cpus,
                                       opt.loadgen_cpus.empty() ? std::to_string(s.env.loadgen_cpus[0]) : opt.loadgen_cpus)},
             {"suite", {{"name", suite.name}, {"file", suite.file}, {"repetitions", suite.repetitions}}}};
    s.run["context"]["git_sha"] = s.rev.sha.empty() ? s.rev.label : s.rev.sha.substr(0, 7);
    s.run["context"]["revision"] = s.rev.label;
  }

  std::vector<Slot> slots = plan_ab_slots(suite, opt, base);

  auto write_runs = [&](bool complete) { write_ab_runs(sides, slots, out_dir, complete); };
  // The deterministic tier first: minutes at most, and its verdict needs no rounds.
  json tiers = deterministic_tiers(opt, slots, base, head, judge, out_dir, out);

  out << "harness ab: base " << base.rev.label << " vs head " << head.rev.label << "; suite " << suite.name << ", "
      << slots.size() << " cases x " << suite.repetitions << " rounds, A B / B A alternating\n" << std::flush;
  run_ab_rounds(opt, suite.repetitions, sides, slots, write_runs);
  write_runs(true);

  json verdict = judge_ab(base.run, head.run, judge);
  const double took = static_cast<double>(now_ns() - started) / 1e9;
  json doc = {{"schema", "iomodels.ab/1"}, {"comparable", true},
              {"base", {{"spec", base.rev.spec}, {"sha", base.rev.sha}, {"label", base.rev.label}}},
              {"head", {{"spec", head.rev.spec}, {"sha", head.rev.sha}, {"label", head.rev.label}}},
              {"suite", suite.name}, {"rounds", suite.repetitions}, {"order", "A B, B A alternating per round"},
              {"seconds", took}, {"cases", verdict["cases"]}, {"summary", verdict["summary"]}, {"tiers", tiers}};
  write_file_atomic(out_dir + "/ab.json", doc.dump(1) + "\n");
  write_ab_page(out_dir, out);
  write_reports(opt, out_dir, doc, head.run, out);
  print_ab(verdict, out);
  int regressions = verdict["summary"].value("regressions", 0);
  for (const auto& [name, t] : tiers.items()) {
    out << "\n";
    print_deterministic(t, out);
    regressions += t["summary"].value("regressions", 0);
    if (t["summary"].value("regressions", 0) > 0) out << "tier " << name << ": regression(s)  <-- FAILS\n";
  }
  for (const auto& c : verdict["cases"])
    if (c.value("cpu_source", "").rfind("ticks", 0) == 0) {
      out << "note: CPU per request from /proc ticks (10 ms resolution) for some cases: a side has no ns figure\n";
      break;
    }
  char took_s[32];
  std::snprintf(took_s, sizeof took_s, "%.0f", took);
  out << "harness ab: " << took_s << " s; wrote " << out_dir << "/ab.json, ab.html, ab.md, ab.junit.xml, base/run.json, head/run.json\n";
  return regressions > 0 ? 1 : 0;
}

}  // namespace iomodels::harness
