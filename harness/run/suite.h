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

// Every case parameter, declared here and nowhere else, one X(...) each:
//   X(type, member, default, suite-file key, run.json "params" key,
//     least value (integers and numbers), least value excluded (numbers),
//     loadgen option or nullptr where the loadgen does not take it)
// It makes CaseParams' members below and, in suite.cpp, the table (kParams)
// that parsing, the "known:" list, to_json/from_json and loadgen_args read.
// The run.json key differs from the suite key only for the three durations,
// whose run.json keys carry their unit. Comments are /* */: a // comment would
// swallow the line splice.
#define IOMODELS_CASE_PARAMS(X)                                                                          \
  X(std::string, protocol, "echo", "protocol", "protocol", 0, false, "--protocol")                        \
  X(long, connections, 16, "connections", "connections", 1, false, "--connections")                       \
  X(std::string, size, "64", "size", "size", 0, false, "--size") /* bytes, or a range "A-B" */            \
  X(long, pipeline, 1, "pipeline", "pipeline", 1, false, "--pipeline") /* passed only if pipeline_set */  \
  X(double, rate, 0, "rate", "rate", 0, false, "--rate") /* total requests/s; 0 = closed loop */           \
  X(long, requests_per_connection, 0, "requests_per_connection", "requests_per_connection", 0, false,      \
    "--requests-per-connection")                                                                         \
  X(long, idle_connections, 0, "idle_connections", "idle_connections", 0, false, "--idle-connections")    \
  X(long, loadgen_threads, 1, "loadgen_threads", "loadgen_threads", 1, false, "--threads")                \
  /* the server's --threads; 0: the server's default (its CPUs) */                                       \
  X(long, server_threads, 0, "server_threads", "server_threads", 0, false, nullptr)                       \
  X(double, duration_s, 2, "duration", "duration_s", 0, true, "--duration")                               \
  X(double, warmup_s, 0.5, "warmup", "warmup_s", 0, false, "--warmup")                                    \
  X(double, timeout_s, 5, "timeout", "timeout_s", 0, true, "--timeout")

// A case's parameters (IOMODELS_CASE_PARAMS).
struct CaseParams {
#define IOMODELS_CASE_PARAM_MEMBER(type, member, fallback, key, json_key, min, strict, loadgen) type member = fallback;
  IOMODELS_CASE_PARAMS(IOMODELS_CASE_PARAM_MEMBER)
#undef IOMODELS_CASE_PARAM_MEMBER
  bool pipeline_set = false;  // the suite named pipeline: only then is --pipeline passed

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
