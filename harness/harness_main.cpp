// harness: runs suites of server × workload cases, compares runs, runs the
// micro-benchmarks. See docs/harness.md.
//
// Exit codes: 0 done (a run whose cases failed still exits 0: failures are
// results, recorded in run.json); 1 compare found a regression; 2 bad command
// line or suite file; 3 the environment is not usable (no loadgen, bad CPU).
#include <cstdio>
#include <sys/resource.h>

#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "core/socket_util.h"
#include "core/version.h"
#include "harness/cost/cost_command.h"
#include "harness/gate/ab.h"
#include "harness/gate/ab_build.h"
#include "harness/gate/ci_reports.h"
#include "harness/gate/compare.h"
#include "harness/pages/compare_page.h"
#include "harness/run/process.h"
#include "harness/run/results.h"
#include "harness/run/resume.h"
#include "harness/run/runner.h"
#include "harness/run/suite.h"

namespace po = boost::program_options;
using namespace iomodels::harness;

namespace {

bool wants_help(const std::vector<std::string>& args) {
  return std::find(args.begin(), args.end(), "--help") != args.end() ||
         std::find(args.begin(), args.end(), "-h") != args.end();
}

constexpr const char* kUsage =
    "usage: harness run --suite FILE [--out DIR] [--servers a,b] [--server-cpus LIST]\n"
    "       harness run --resume DIR    (finish an interrupted run with its own options)\n"
    "                   [--loadgen-cpus LIST] [--repetitions N] [--bin-dir DIR]\n"
    "                   [--topology loopback|netns|hosts:FILE] [--clients N] [--link SPEC]\n"
    "       harness compare BASE CURRENT [--threshold 5%] [--reference epoll_lt] [--alpha 0.05] [--html OUT.html]\n"
    "       harness ab --suite FILE [--base REV] [--head REV|worktree] [--base-bin DIR] [--head-bin DIR]\n"
    "                  [--cpu-threshold 5%] [--p99-threshold 10%] [--accept 'CASE: REASON'] [--out DIR]\n"
    "                  (writes ab.json, ab.html, ab.md, ab.junit.xml; --bencher-json F, --benchmark-action-json F)\n"
    "                  [--deterministic on|off] [--against-baseline FILE] [--write-baseline FILE]\n"
    "       harness micro --out DIR [--bin-dir DIR] [--min-time T] [--filter REGEX]\n"
    "       harness cost --server NAME [--protocol P] [--connections N] [--requests LOW,HIGH] [--callgrind|--syscalls]\n"
    "       harness --help | --version\n";

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

po::variables_map parse(const po::options_description& desc, const std::vector<std::string>& args,
                        const po::positional_options_description* pos = nullptr) {
  po::variables_map vm;
  auto parser = po::command_line_parser(args).options(desc);
  if (pos) parser.positional(*pos);
  po::store(parser.run(), vm);
  po::notify(vm);
  return vm;
}

int cmd_run(const std::vector<std::string>& args) {
  RunOptions o;
  std::string servers, resume_dir, bencher, benchmark_action;
  po::options_description d("harness run");
  d.add_options()("help,h", "this help")
      ("suite", po::value(&o.suite_path), "suite JSON file (harness/suites/NAME.json)")
      ("out", po::value(&o.out_dir), "results folder (default results/<date>-<suite>)")
      ("resume", po::value(&resume_dir), "finish the interrupted run in this folder with its own options "
       "(run.json \"complete\": false): only the steps it had not done")
      ("servers", po::value(&servers), "only these servers, comma-separated")
      ("server-cpus", po::value(&o.server_cpus), "CPUs for the server (default 0)")
      ("loadgen-cpus", po::value(&o.loadgen_cpus), "CPUs for the loadgen (default 1)")
      ("repetitions", po::value(&o.repetitions), "override the suite's repetitions")
      ("bin-dir", po::value(&o.bin_dir), "where servers and loadgen are (default: beside harness)")
      ("loadgen", po::value(&o.loadgen), "loadgen executable (default BIN_DIR/loadgen)")
      ("start-timeout-ms", po::value(&o.start_timeout_ms)->default_value(5000), "wait for 'listening'")
      ("stop-timeout-ms", po::value(&o.stop_timeout_ms)->default_value(2000), "after SIGTERM, then SIGKILL")
      ("calibration-ms", po::value(&o.calibration_ms)->default_value(50),
       "host calibration: ms of a syscall loop on each CPU before each repetition (0: none)")
      ("progress", po::value<std::string>()->default_value("auto"), "auto (terminal only) | off")
      ("no-micro", "skip the suite's micro-benchmark entry")
      ("no-callgrind", "skip the suite's callgrind table (instructions per message)")
      ("count-syscalls", po::value(&o.count_syscalls)->default_value("auto"),
       "kernel-counted syscalls by name: auto (a round of their own for suite groups with "
       "count_syscalls) | every (every timed round too; the counters cost CPU) | off")
      ("topology", po::value(&o.topology)->default_value("loopback"),
       "loopback | netns (root: namespaces in 198.18.0.0/15) | hosts:FILE (docs/multihost.md)")
      ("clients", po::value(&o.clients)->default_value(1), "client namespaces/loadgens (netns)")
      ("family", po::value(&o.family)->default_value("ipv4"),
       "ipv4 | ipv6: loopback over 127.0.0.1 or ::1; netns over 198.18.0.0/15 or the ULA fd00:198:18::/64")
      ("link", po::value(&o.link), "netns link emulation: \"delay=5ms,jitter=0.5ms,distribution=normal,loss=0.1%,rate=1gbit\"")
      ("bencher-json", po::value(&bencher), "also write the case medians as Bencher's metric format (BMF JSON) to FILE")
      ("benchmark-action-json", po::value(&benchmark_action),
       "also write github-action-benchmark's customSmallerIsBetter JSON (CPU/request, p50, p99) to FILE");
  if (wants_help(args)) {
    std::cout << d;
    return 0;
  }
  auto vm = parse(d, args);
  o.servers = split_commas(servers);
  o.progress = vm["progress"].as<std::string>() != "off";
  o.micro = !vm.count("no-micro");
  if (!resume_dir.empty()) {
    // The run goes on as it was started: any other option would make its two
    // parts different runs.
    for (const auto& [name, value] : vm)
      if (!value.defaulted() && name != "resume" && name != "progress" && name != "bencher-json" &&
          name != "benchmark-action-json")
        throw po::error("--resume takes the run's own options from its run.json; --" + name + " cannot be given with it");
    o = resume_options(resume_dir, o.progress);
  } else if (o.suite_path.empty()) {
    throw po::error("the option '--suite' is required but missing");
  } else {
    o.callgrind = !vm.count("no-callgrind");
  }
  if (o.repetitions < 0) throw po::error("--repetitions must be >= 1");
  if (o.count_syscalls != "auto" && o.count_syscalls != "every" && o.count_syscalls != "off")
    throw po::error("--count-syscalls: expected auto, every or off, got '" + o.count_syscalls + "'");
  if (o.calibration_ms < 0 || o.calibration_ms > 10000) throw po::error("--calibration-ms must be in 0..10000");
  check_topology(o);
  install_child_reaper_signals();
  defer_interrupts();  // SIGINT/SIGTERM: write run.json marked incomplete, then die of the signal
  // Children inherit this: a c10k case needs 10,000+ fds in the server, and
  // the soft limit is often 1024 while the hard one allows far more.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  std::string out;
  nlohmann::json run;
  try {
    run = run_suite(o, &out);
  } catch (const SuiteError&) {
    throw;
  } catch (const Interrupted&) {
    // run_suite wrote what it finished; its lab and children are gone.
    std::cerr << "harness run: interrupted; " << (out.empty() ? "no results folder yet" : out + "/run.json")
              << " holds the finished cases (\"complete\": false); go on with: harness run --resume " << out << "\n";
    die_of_interrupt();
  } catch (const std::runtime_error& e) {
    // A full or read-only results disk lands here too: the message names the
    // path, and results written before stay as they were (atomic writes).
    std::cerr << "harness run: " << e.what() << "\n";
    return 3;
  }
  int ok = 0, degraded = 0, failed = 0, skipped = 0;
  for (const auto& c : run["cases"]) {
    std::string s = c["status"];
    (s == "ok" ? ok : s == "degraded" ? degraded : s == "failed" ? failed : skipped)++;
  }
  std::cerr << "harness run: " << ok << " ok, " << degraded << " degraded, " << failed << " failed, " << skipped << " skipped; wrote "
            << out << "/run.json and gbench.json\n";
  write_run_reports(run, bencher, benchmark_action);
  return 0;
}

int cmd_compare(const std::vector<std::string>& args) {
  CompareOptions o;
  std::string base, current, threshold = "5%", html;
  po::options_description d("harness compare");
  d.add_options()("help,h", "this help")
      ("base", po::value(&base)->required(), "BASE run.json or its folder")
      ("current", po::value(&current)->required(), "CURRENT run.json or its folder")
      ("threshold", po::value(&threshold)->default_value("5%"), "relative change that counts (5% or 0.05)")
      ("reference", po::value(&o.reference)->default_value("epoll_lt"), "server to normalise to")
      ("alpha", po::value(&o.alpha)->default_value(0.05), "significance level of the U test")
      ("html", po::value(&html), "also write this page (regressions first, model panels) and its data "
                                 "(iomodels.compare/1) beside it, same name with .json");
  po::positional_options_description pos;
  pos.add("base", 1).add("current", 1);
  if (std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::cout << "harness compare BASE CURRENT [options]\n" << d;
    return 0;
  }
  parse(d, args, &pos);
  o.threshold = parse_threshold(threshold);
  nlohmann::json b, c;
  try {
    b = read_run(base);
    c = read_run(current);
  } catch (const std::runtime_error& e) {
    std::cerr << "harness compare: " << e.what() << "\n";
    return 2;
  }
  if (html.empty()) return compare_runs(b, c, o, std::cout);
  nlohmann::json doc;
  int rc = compare_runs(b, c, o, std::cout, &doc);
  doc["base"] = {{"label", base}, {"path", base}};
  doc["head"] = {{"label", current}, {"path", current}};
  std::string json_path = html.size() > 5 && html.ends_with(".html") ? html.substr(0, html.size() - 5) : html;
  json_path += ".json";
  try {
    write_compare_page(doc, json_path, html, current);
  } catch (const std::exception& e) {
    std::cerr << "harness compare: no page: " << e.what() << "\n";
    return 3;
  }
  std::cerr << "harness compare: wrote " << html << " and " << json_path << "\n";
  return rc;
}

int cmd_ab(const std::vector<std::string>& args) {
  AbOptions o;
  std::string servers, cpu = "5%", p99 = "10%";
  std::vector<std::string> accept;
  po::options_description d("harness ab");
  d.add_options()("help,h", "this help")
      ("suite", po::value(&o.suite_path)->required(), "suite JSON file (harness/suites/regress.json)")
      ("base", po::value(&o.base)->default_value("HEAD^"), "base revision (default: HEAD's first parent)")
      ("head", po::value(&o.head)->default_value("worktree"), "head revision, or 'worktree' (this build, not rebuilt)")
      ("base-bin", po::value(&o.base_bin), "use this build folder as base instead of building --base")
      ("head-bin", po::value(&o.head_bin), "use this build folder as head")
      ("source", po::value(&o.source_dir), "the git repository (default: the one this harness was built from)")
      ("work-dir", po::value(&o.work_dir), "where revisions are checked out and built (default BUILD/ab)")
      ("out", po::value(&o.out_dir), "results folder (default results/<date>-ab-<suite>)")
      ("servers", po::value(&servers), "only these servers, comma-separated")
      ("server-cpus", po::value(&o.server_cpus), "CPUs for the servers (default 0)")
      ("loadgen-cpus", po::value(&o.loadgen_cpus), "CPUs for the loadgens (default 1)")
      ("repetitions", po::value(&o.repetitions), "rounds (override the suite's)")
      ("cpu-threshold", po::value(&cpu)->default_value("5%"), "CPU ns/request increase that counts")
      ("p99-threshold", po::value(&p99)->default_value("10%"), "p99 increase that counts")
      ("confidence", po::value(&o.judge.confidence)->default_value(0.95), "two-sided interval level")
      ("min-pairs", po::value(&o.judge.min_pairs)->default_value(6), "fewer usable pairs: not gated")
      ("accept", po::value(&accept), "'CASE-GLOB: REASON': let a known cost through (repeatable)")
      ("calibration-ms", po::value(&o.calibration_ms)->default_value(0), "host calibration per repetition (0: none)")
      ("count-syscalls", po::value(&o.count_syscalls)->default_value("none"),
       "kernel-counted syscalls per round on: none | both | base | head (one side: what counting costs)")
      ("no-trailers", "ignore Perf-accepted: trailers in the head commit's message")
      ("bencher-json", po::value(&o.bencher_path),
       "also write head's medians and the head/base ratios as Bencher's metric format (BMF JSON) to FILE")
      ("benchmark-action-json", po::value(&o.benchmark_action_path),
       "also write github-action-benchmark's customSmallerIsBetter JSON to FILE")
      ("deterministic", po::value<std::string>()->default_value("on"),
       "on | off: the deterministic tier (callgrind instructions, kernel-counted syscalls per message of every "
       "server at fixed request counts, both builds)")
      ("deterministic-connections", po::value<std::string>()->default_value("1"),
       "the deterministic tier's connection counts, comma-separated (syscalls at each; callgrind at the first)")
      ("against-baseline", po::value(&o.against_baseline),
       "also compare head's deterministic costs with this file (results/baselines/deterministic.json)")
      ("write-baseline", po::value(&o.write_baseline), "write head's deterministic costs to this file")
      ("progress", po::value<std::string>()->default_value("auto"), "auto (terminal only) | off");
  if (wants_help(args)) {
    std::cout << d;
    return 0;
  }
  auto vm = parse(d, args);
  o.servers = split_commas(servers);
  o.judge.cpu_threshold = parse_threshold(cpu);
  o.judge.p99_threshold = parse_threshold(p99);
  o.trailers = !vm.count("no-trailers");
  const std::string det = vm["deterministic"].as<std::string>();
  if (det != "on" && det != "off") throw po::error("--deterministic must be on or off, got '" + det + "'");
  o.deterministic = det == "on";
  o.deterministic_plan.connections.clear();
  for (const auto& c : split_commas(vm["deterministic-connections"].as<std::string>())) {
    int n = 0;
    if (std::sscanf(c.c_str(), "%d", &n) != 1 || n < 1 || n > 1000 || std::to_string(n) != c)
      throw po::error("--deterministic-connections: expected counts from 1 to 1000, got '" + c + "'");
    o.deterministic_plan.connections.push_back(n);
  }
  if (o.deterministic_plan.connections.empty()) throw po::error("--deterministic-connections: no count given");
  o.deterministic_plan.callgrind_connections = o.deterministic_plan.connections.front();
  if (o.count_syscalls != "none" && o.count_syscalls != "both" && o.count_syscalls != "base" && o.count_syscalls != "head")
    throw po::error("--count-syscalls: expected none, both, base or head, got '" + o.count_syscalls + "'");
  o.progress = vm["progress"].as<std::string>() != "off";
  if (!(o.judge.confidence > 0.5 && o.judge.confidence < 1)) throw po::error("--confidence must be in (0.5, 1)");
  if (o.repetitions < 0) throw po::error("--repetitions must be >= 1");
  for (const auto& a : accept) {
    auto parsed = parse_perf_accepted("Perf-accepted: " + a);
    if (parsed.empty()) throw po::error("--accept: expected 'CASE: REASON', got '" + a + "'");
    o.judge.accepted.push_back(parsed.front());
  }
  install_child_reaper_signals();
  defer_interrupts();  // SIGINT/SIGTERM: finished rounds written, worktrees removed, then die of it
  try {
    return run_ab(o, std::cout);
  } catch (const SuiteError&) {
    throw;
  } catch (const Interrupted&) {
    begin_interrupt_cleanup();
    remove_worktrees_added();
    std::cerr << "harness ab: interrupted; worktrees it added are removed; base/run.json and head/run.json "
                 "(if the rounds had begun) hold the finished rounds (\"complete\": false)\n";
    die_of_interrupt();
  } catch (const std::runtime_error& e) {
    std::cerr << "harness ab: " << e.what() << "\n";
    return 3;
  }
}

int cmd_micro(const std::vector<std::string>& args) {
  MicroOptions o;
  po::options_description d("harness micro");
  d.add_options()("help,h", "this help")
      ("out", po::value(&o.out_dir)->required(), "results folder: writes OUT/micro.json")
      ("bin-dir", po::value(&o.bin_dir), "where iomodels_micro is (default: beside harness)")
      ("min-time", po::value(&o.min_time), "--benchmark_min_time (seconds, e.g. 0.01)")
      ("filter", po::value(&o.filter), "--benchmark_filter regex")
      ("cpus", po::value(&o.cpus), "pin to these CPUs");
  if (std::find(args.begin(), args.end(), "--help") != args.end()) {
    std::cout << d;
    return 0;
  }
  parse(d, args);
  install_child_reaper_signals();
  run_micro(o);
  return 0;  // a missing micro executable is a skip, said on stderr
}

}  // namespace

int main(int argc, char** argv) {
  iomodels::keep_standard_fds_open();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = args.front();
  args.erase(args.begin());
  try {
    if (cmd == "run") return cmd_run(args);
    if (cmd == "compare") return cmd_compare(args);
    if (cmd == "micro") return cmd_micro(args);
    if (cmd == "ab") return cmd_ab(args);
    if (cmd == "cost") return iomodels::harness::cost::cmd_cost(args);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (cmd == "--version") {
      std::cout << "harness " << iomodels::project_version() << " (" << iomodels::git_sha() << ")\n";
      return 0;
    }
    std::cerr << "harness: unknown command '" << cmd << "'\n" << kUsage;
    return 2;
  } catch (const SuiteError& e) {
    std::cerr << "harness: bad suite: " << e.what() << "\n";
    return 2;
  } catch (const po::error& e) {
    std::cerr << "harness " << cmd << ": " << e.what() << "\n" << kUsage;
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "harness " << cmd << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "harness " << cmd << ": " << e.what() << "\n";
    return 3;
  }
}
