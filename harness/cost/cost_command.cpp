#include "harness/cost/cost_command.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "harness/cost/kernel_syscalls.h"
#include "harness/cost/probe.h"
#include "harness/run/process.h"
#include "harness/run/runner.h"

namespace iomodels::harness::cost {

namespace po = boost::program_options;
using nlohmann::json;

int cmd_cost(const std::vector<std::string>& args) {
  CostProbe p;
  std::string server, bin_dir, requests = "2000,4000", out, server_cpus, loadgen_cpus;
  po::options_description d(
      "harness cost: user-space instructions (callgrind) and kernel-counted syscalls per message of one server,\n"
      "each the difference of two runs at fixed request counts (start-up and shutdown cancel).\n"
      "Without --callgrind or --syscalls, both. Output: JSON iomodels.cost/1 on stdout (and --out).\n"
      "--server-env LD_PRELOAD=lib.so injects into the server alone (under valgrind too)");
  d.add_options()("help,h", "this help")
      ("server", po::value(&server)->required(), "server executable name (in --bin-dir) or path")
      ("bin-dir", po::value(&bin_dir), "where servers and loadgen are (default: beside harness)")
      ("protocol", po::value(&p.protocol)->default_value("echo"), "echo | framed | http")
      ("connections", po::value(&p.connections)->default_value(1), "loadgen connections (closed loop)")
      ("size", po::value(&p.size)->default_value("64"), "payload bytes")
      ("requests", po::value(&requests)->default_value(requests), "LOW,HIGH request counts (HIGH > LOW)")
      ("server-arg", po::value(&p.server_args), "extra server argument (repeatable), e.g. --server-arg=--setup --server-arg=plain")
      ("server-env", po::value(&p.server_env), "NAME=VALUE for the server alone (repeatable), e.g. LD_PRELOAD=lib.so")
      ("server-cpus", po::value(&server_cpus), "pin the server (default: not pinned)")
      ("loadgen-cpus", po::value(&loadgen_cpus), "pin the loadgen (default: not pinned)")
      ("callgrind", "only the callgrind figure")
      ("syscalls", "only the kernel syscall counts")
      ("log-dir", po::value(&p.log_dir), "keep logs and callgrind profiles here (default: a temp folder)")
      ("out", po::value(&out), "also write the JSON here");
  if (std::find(args.begin(), args.end(), "--help") != args.end() ||
      std::find(args.begin(), args.end(), "-h") != args.end()) {
    std::cout << d;
    return 0;
  }
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(d).run(), vm);
  po::notify(vm);
  {
    std::istringstream in(requests);
    char comma = 0;
    if (!(in >> p.requests_low >> comma >> p.requests_high) || comma != ',' || p.requests_low < 1 ||
        p.requests_high <= p.requests_low)
      throw po::error("--requests: expected LOW,HIGH with 1 <= LOW < HIGH, got '" + requests + "'");
  }
  if (p.connections < 1 || p.connections > 10000) throw po::error("--connections must be 1..10000");
  if (p.protocol != "echo" && p.protocol != "framed" && p.protocol != "http")
    throw po::error("--protocol: expected echo, framed or http, got '" + p.protocol + "'");
  for (const auto& e : p.server_env)
    if (e.find('=') == std::string::npos || e.front() == '=')
      throw po::error("--server-env: expected NAME=VALUE, got '" + e + "'");
  if (!server_cpus.empty()) p.server_cpus = parse_cpu_list(server_cpus);
  if (!loadgen_cpus.empty()) p.loadgen_cpus = parse_cpu_list(loadgen_cpus);
  if (bin_dir.empty()) bin_dir = self_dir();
  p.server_path = server.find('/') == std::string::npos ? bin_dir + "/" + server : server;
  p.loadgen_path = bin_dir + "/loadgen";
  for (const auto& exe : {p.server_path, p.loadgen_path})
    if (::access(exe.c_str(), X_OK) != 0) {
      std::cerr << "harness cost: no executable " << exe << " (build it, or pass --bin-dir)\n";
      return 3;
    }
  const bool both = !vm.count("callgrind") && !vm.count("syscalls");
  install_child_reaper_signals();
  json j = {{"schema", "iomodels.cost/1"},
            {"server", server},
            {"server_args", p.server_args},
            {"server_env", p.server_env},
            {"workload", {{"key", probe_key(p)}, {"protocol", p.protocol}, {"connections", p.connections},
                          {"size", p.size}, {"requests", {p.requests_low, p.requests_high}}}}};
  if (both || vm.count("callgrind")) {
    auto why = valgrind_unavailable();
    j["callgrind"] = why.empty() ? callgrind_per_message(p).to_json() : json{{"unavailable", why}};
  }
  if (both || vm.count("syscalls")) {
    auto why = kernel_syscalls_unavailable();
    j["kernel_syscalls"] = why.empty() ? kernel_syscalls_per_message(p).to_json() : json{{"unavailable", why}};
  }
  const std::string text = j.dump(1) + "\n";
  std::cout << text;
  if (!out.empty()) write_file_atomic(out, text);
  return 0;
}

}  // namespace iomodels::harness::cost
