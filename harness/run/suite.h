// Suite files (harness/suites/*.json): a few defaults plus groups of cases
// whose list-valued parameters expand as a cross product.
//
//   {"name": "smoke", "repetitions": 1, "servers": ["epoll_lt", "blocking_threads"],
//   (or "servers": "all", or {"all_except": ["select"]})
//    "defaults": {"duration": 1, "warmup": 0.2},
//    "groups": [{"name": "echo", "connections": [1, 4]}],
//    "micro": {"min_time": "0.01s"}}
//
// A bad file throws SuiteError whose message starts with the offending field
// ("groups[0].connections[1]: ..."), so the user knows where to look.
#pragma once
#include <stdexcept>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

struct SuiteError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Every server of this build, in list order: read from build/servers.json
// (harness/run/server_list.h); throws std::runtime_error when the file is missing.
const std::vector<std::string>& known_servers();

// A case's parameters. Each is declared here and once more in the table in
// suite.cpp (kParams: its suite-file and run.json keys, its checks, its
// loadgen option), which parsing, to_json/from_json and loadgen_args read.
struct CaseParams {
  std::string protocol = "echo";
  long connections = 16;
  std::string size = "64";         // bytes, or a range "A-B"
  long pipeline = 1;
  bool pipeline_set = false;       // the suite named it: only then is --pipeline passed
  double rate = 0;                 // total requests/s; 0 = closed loop
  long requests_per_connection = 0;
  long idle_connections = 0;
  long loadgen_threads = 1;
  long server_threads = 0;         // 0: the server's default (its CPUs)
  double duration_s = 2;
  double warmup_s = 0.5;
  double timeout_s = 5;

  // "echo/c16/s64" plus "/p16", "/r5000", "/i9900", "/k1" where not default:
  // the case name without the server, also the key that pairs a case with the
  // reference server's in compare.
  std::string id() const;
  nlohmann::json to_json() const;
  static CaseParams from_json(const nlohmann::json& j);  // inverse of to_json (lenient)
  // The loadgen's options for these parameters ("--connections", "16", ...);
  // server_threads goes to the server instead.
  std::vector<std::string> loadgen_args() const;
  bool operator==(const CaseParams&) const = default;
};

struct SuiteCase {
  std::string group;
  CaseParams params;
  std::vector<std::string> servers;  // empty: the suite's servers
  // A group's "server_args": {"io_uring_multishot": [["--setup", "defer"], ["--setup", "plain"]]}
  // runs that server once per list of extra arguments (a variant); a plain
  // list of strings is one variant. Servers not named run once, as they are.
  std::map<std::string, std::vector<std::vector<std::string>>> server_args;
  // "aa": true adds an A/A row: a second copy of the reference server, run
  // as if it were another model; its ratio is the scenario's noise floor.
  bool aa = false;
  // A group's own "repetitions" (rounds), beyond the suite's: the cost groups
  // need >= 6 rounds for a 95% interval; 0: the suite's.
  int repetitions = 0;
  // "count_syscalls": true: after the timed rounds, one more round of its own
  // with the kernel's syscall counters attached. Counting costs the server
  // far more than 2% CPU per message (a counter per syscall tracepoint is
  // switched at every context switch), so it never shares a timed round.
  bool count_syscalls = false;

  // The argument lists `server` runs with here: {{}} when it has no variants.
  std::vector<std::vector<std::string>> variants(const std::string& server) const;
};

// Where a case record sits: which server, which variant of it, which
// workload. run.json stores each part beside the name made of them
// (docs/harness.md, "Case names"), so that no reader splits names.
struct CaseLabel {
  std::string server;
  // "" for the server as it is; its extra arguments joined by spaces
  // ("--setup plain"); "aa" for the A/A copy of the reference; "ref GROUP"
  // for a group's own copy of the reference.
  std::string variant;
  std::string case_id;  // CaseParams::id(): "echo/c16/s64"
  // ab's fixed-load tier: "fixed-load", written before the server so that
  // accepted-regression globs tell the tiers apart; "" elsewhere.
  std::string tier;

  // "epoll_lt/echo/c16/s64", "io_uring_multishot[--setup plain]/echo/c16/s64",
  // "fixed-load/epoll_lt/echo/c16/s64/r25000".
  std::string name() const;
};

// The label of `server` run with `args` (a variant's extra arguments) on `p`.
CaseLabel case_label(const std::string& server, const std::vector<std::string>& args, const CaseParams& p);
inline std::string case_name(const std::string& server, const std::vector<std::string>& args, const CaseParams& p) {
  return case_label(server, args, p).name();
}

struct Suite {
  std::string name;
  std::string file;
  std::string description;
  int repetitions = 1;
  std::vector<std::string> servers;  // resolved: "all" and {"all_except": [...]} in list order
  std::vector<SuiteCase> cases;
  bool has_micro = false;
  nlohmann::json micro;              // {"min_time": "0.05s", "filter": "..."} when present
  // {"workloads": ["echo/c1/s64", ...], "requests": [LOW, HIGH]}: every server
  // under callgrind after the cases (harness/cost/callgrind_table.h); null: none.
  nlohmann::json callgrind;
};

// `servers`: the names a suite may use; nullptr: this build's (known_servers()).
Suite parse_suite(const nlohmann::json& j, const std::string& file,
                  const std::vector<std::string>* servers = nullptr);
// Throws SuiteError "PATH: FIELD: what" (also for an unreadable file or invalid JSON).
Suite load_suite(const std::string& path);

}  // namespace iomodels::harness
