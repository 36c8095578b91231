#include "harness/run/calibration.h"

#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "core/clock.h"
#include "harness/run/results.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

// getppid through syscall(2): a real kernel entry every time (no vDSO, no
// glibc cache), doing nearly nothing inside, so it measures the CPU's speed
// at entering and leaving the kernel, which is what an I/O loop pays most.
json calibrate_one(int cpu, int budget_ms) {
  json out;
  std::thread t([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) != 0) return;
    ::sched_yield();  // start on the CPU we asked for
    const uint64_t start = now_ns();
    const uint64_t stop = start + static_cast<uint64_t>(budget_ms) * 1'000'000;
    uint64_t ops = 0, now = start;
    while (now < stop && ops < 100'000'000) {
      for (int i = 0; i < 256; ++i) ::syscall(SYS_getppid);
      ops += 256;
      now = now_ns();
    }
    out = {{"ns_per_op", static_cast<double>(now - start) / static_cast<double>(ops)}, {"ops", ops}};
  });
  t.join();
  return out;
}

}  // namespace

json calibrate_cpus(const std::vector<int>& cpus, int budget_ms) {
  json out = json::object();
  std::set<int> seen;
  for (int c : cpus) {
    if (!seen.insert(c).second) continue;
    json one = calibrate_one(c, budget_ms);
    if (!one.is_null()) out[std::to_string(c)] = one;
  }
  return out;
}

void flag_calibration_outliers(json& cases) {
  std::map<std::string, std::vector<double>> by_cpu;
  for (const auto& c : cases)
    for (const auto& r : c.value("repetitions", json::array()))
      if (r.contains("calibration") && r["calibration"].is_object())
        for (const auto& [cpu, v] : r["calibration"].items())
          if (v.contains("ns_per_op")) by_cpu[cpu].push_back(v["ns_per_op"].get<double>());
  std::map<std::string, std::pair<double, double>> centre;  // median, allowed distance
  for (auto& [cpu, v] : by_cpu) {
    double med = summarize(v).median;
    std::vector<double> dev;
    for (double x : v) dev.push_back(std::fabs(x - med));
    double mad = summarize(dev).median * 1.4826;  // consistent with sigma for normal data
    centre[cpu] = {med, std::max(3 * mad, 0.15 * med)};
  }
  for (auto& c : cases) {
    json rounds = json::array();
    for (auto& r : c["repetitions"]) {
      bool out = false;
      if (r.contains("calibration") && r["calibration"].is_object())
        for (const auto& [cpu, v] : r["calibration"].items()) {
          auto it = centre.find(cpu);
          if (it != centre.end() && v.contains("ns_per_op") &&
              std::fabs(v["ns_per_op"].get<double>() - it->second.first) > it->second.second)
            out = true;
        }
      r["flags"]["calibration_outlier"] = out;
      if (out) rounds.push_back(r.value("round", 0));
    }
    c["flags"]["outlier_rounds"] = rounds;
  }
}

}  // namespace iomodels::harness
