// Suite files (harness/suites/*.json): a few defaults plus groups of cases
// whose list-valued parameters expand as a cross product.
//
//   {"name": "smoke", "repetitions": 1, "servers": ["epoll_lt", "blocking_threads"],
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
// (harness/server_list.h); throws std::runtime_error when the file is missing.
const std::vector<std::string>& known_servers();

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

// A case's name in results: "epoll_lt/echo/c16/s64", with a variant's
// arguments in brackets after the server: "io_uring_multishot[--setup plain]/echo/c16/s64"
// (so the part after the first '/' still pairs it with the reference's case).
std::string case_name(const std::string& server, const std::vector<std::string>& args, const CaseParams& p);

struct Suite {
  std::string name;
  std::string file;
  std::string description;
  int repetitions = 1;
  std::vector<std::string> servers;  // resolved; "all" = known_servers()
  std::vector<SuiteCase> cases;
  bool has_micro = false;
  nlohmann::json micro;              // {"min_time": "0.05s", "filter": "..."} when present
  // {"workloads": ["echo/c1/s64", ...], "requests": [LOW, HIGH]}: every server
  // under callgrind after the cases (harness/cost/callgrind_table.h); null: none.
  nlohmann::json callgrind;
};

Suite parse_suite(const nlohmann::json& j, const std::string& file);
Suite load_suite(const std::string& path);  // throws SuiteError (also for unreadable/invalid JSON)

}  // namespace iomodels::harness
