#include "harness/run/resume.h"

#include <fstream>
#include <stdexcept>

namespace iomodels::harness {

using nlohmann::json;

json saved_run_options(const RunOptions& o) {
  return {{"suite", o.suite_path},          {"servers", o.servers},
          {"server_cpus", o.server_cpus},   {"loadgen_cpus", o.loadgen_cpus},
          {"repetitions", o.repetitions},   {"bin_dir", o.bin_dir},
          {"loadgen", o.loadgen},           {"start_timeout_ms", o.start_timeout_ms},
          {"stop_timeout_ms", o.stop_timeout_ms}, {"micro", o.micro},
          {"topology", o.topology},         {"link", o.link},
          {"clients", o.clients},           {"calibration_ms", o.calibration_ms},
          {"callgrind", o.callgrind},       {"count_syscalls", o.count_syscalls}};
}

PriorRun load_prior_run(const std::string& dir) {
  const std::string path = dir + "/run.json";
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("--resume: no " + path);
  PriorRun p;
  try {
    p.run = json::parse(in);
  } catch (const json::exception& e) {
    throw std::invalid_argument("--resume: " + path + " is not valid JSON: " + e.what());
  }
  if (!p.run.contains("run_options") || !p.run.contains("progress"))
    throw std::invalid_argument("--resume: " + path + " has no run_options/progress (written by an older harness)");
  if (p.run.value("complete", false))
    throw std::invalid_argument("--resume: " + path + " is complete: nothing to resume");
  p.steps_done = p.run["progress"].value("steps_done", size_t{0});
  return p;
}

RunOptions resume_options(const std::string& dir, bool progress) {
  const json o = load_prior_run(dir).run["run_options"];
  RunOptions r;
  try {
    r.suite_path = o.at("suite");
    r.servers = o.at("servers").get<std::vector<std::string>>();
    r.server_cpus = o.at("server_cpus");
    r.loadgen_cpus = o.at("loadgen_cpus");
    r.repetitions = o.at("repetitions");
    r.bin_dir = o.at("bin_dir");
    r.loadgen = o.at("loadgen");
    r.start_timeout_ms = o.at("start_timeout_ms");
    r.stop_timeout_ms = o.at("stop_timeout_ms");
    r.micro = o.at("micro");
    r.topology = o.at("topology");
    r.link = o.at("link");
    r.clients = o.at("clients");
    r.calibration_ms = o.at("calibration_ms");
    r.callgrind = o.value("callgrind", true);  // absent in runs made before callgrind tables existed
    r.count_syscalls = o.value("count_syscalls", std::string("auto"));
  } catch (const json::exception& e) {
    throw std::invalid_argument("--resume: " + dir + "/run.json: run_options: " + e.what());
  }
  r.out_dir = dir;
  r.progress = progress;
  r.resume = true;
  return r;
}

}  // namespace iomodels::harness
