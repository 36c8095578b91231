#include "core/version.h"
#include "harness/cost/round_cost.h"
#include "harness/run/results.h"
#include "loadgen/result.h"

#include <gnu/libc-version.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <stdexcept>
#include <system_error>

#ifndef IOMODELS_BUILD_TYPE
#define IOMODELS_BUILD_TYPE "unknown"
#endif
// liburing 2.3 has no runtime version call, so both library versions come from
// pkg-config at configure time (harness/CMakeLists.txt): they are the versions
// the servers were built against, which is what a result should record.
#ifndef IOMODELS_LIBURING_VERSION
#define IOMODELS_LIBURING_VERSION "unknown"
#endif
#ifndef IOMODELS_LIBEVENT_VERSION
#define IOMODELS_LIBEVENT_VERSION "unknown"
#endif

namespace iomodels::harness {

using nlohmann::json;

namespace {

// The value of /proc/cpuinfo's first line that starts with `key`, trimmed;
// nullopt without one (the first CPU's: every CPU of a VM reports the same).
std::optional<std::string> cpuinfo_value(std::string_view key) {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) {
      auto p = line.find(':');
      if (p == std::string::npos) return std::string();
      std::string v = line.substr(std::min(line.size(), line.find_first_not_of(' ', p + 1)));
      v.erase(v.find_last_not_of(" \t") + 1);  // some hypervisors pad it
      return v;
    }
  return std::nullopt;
}

}  // namespace

std::string cpu_model() { return cpuinfo_value("model name").value_or("unknown"); }

// The x86 extensions that glibc's ifunc selection (string, memory and math
// functions), libstdc++ and the compilers' target clones dispatch on.
constexpr std::string_view kIsaFlags[] = {
    "sse2",     "ssse3",    "sse4_1",   "sse4_2",   "sse4a",     "popcnt",      "abm",      "movbe",    "bmi1",
    "bmi2",     "avx",      "avx2",     "fma",      "f16c",      "erms",        "fsrm",     "rtm",      "xsave",
    "xsavec",   "avx512f",  "avx512cd", "avx512dq", "avx512bw",  "avx512vl",    "avx512er", "avx512pf", "avx512ifma",
    "avx512vbmi", "avx512_vbmi2", "avx_vnni", "avx512_fp16", "amx_tile", "adx"};

std::string cpu_identity(const std::string& model, const std::string& flags) {
  std::set<std::string, std::less<>> present;
  std::istringstream words(flags);
  for (std::string w; words >> w;) present.insert(w);
  uint32_t h = 2166136261u;  // FNV-1a: stable across builds and hosts, unlike std::hash
  for (std::string_view isa : kIsaFlags)
    if (present.count(isa))
      for (unsigned char c : std::string(isa) + " ") h = (h ^ c) * 16777619u;
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", h);
  return model + " [isa " + hex + "]";
}

std::string cpu_identity() { return cpu_identity(cpu_model(), cpuinfo_value("flags").value_or("")); }

namespace {

std::string iso_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const json* find_path(const json& j, std::initializer_list<const char*> keys) {
  const json* cur = &j;
  for (const char* k : keys) {
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
  }
  return cur->is_number() ? cur : nullptr;
}

}  // namespace

json build_context(const std::string& server_cpus, const std::string& loadgen_cpus) {
  utsname u{};
  ::uname(&u);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
#if defined(__clang__)
  std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  std::string compiler = std::string("gcc ") + __VERSION__;
#else
  std::string compiler = "unknown";
#endif
  return {{"date", iso_now()},
          {"host", host},
          {"kernel", std::string(u.sysname) + " " + u.release},
          {"cpu_model", cpu_model()},
          {"cpus", ::sysconf(_SC_NPROCESSORS_ONLN)},
          {"compiler", compiler},
          {"build_type", IOMODELS_BUILD_TYPE},
          {"git_sha", iomodels::git_sha()},
          {"versions", {{"liburing", IOMODELS_LIBURING_VERSION},
                        {"libevent", IOMODELS_LIBEVENT_VERSION},
                        {"glibc", ::gnu_get_libc_version()}}},
          {"server_cpus", server_cpus},
          {"loadgen_cpus", loadgen_cpus},
          {"topology", "loopback"},
          {"link", nullptr},
          {"hosts", json::array()}};
}

double rep_metric(const json& rep, std::string_view name) {
  auto server_cpu = [&](const char* key) -> double {
    const json* v = find_path(rep, {"server_cpu", key});
    return v && v->is_number() ? v->get<double>() : NAN;
  };
  if (name == metric::kServerCpuUsPerRequest) return server_cpu("us_per_request");
  if (name == metric::kServerCpuNsPerRequest) return server_cpu("ns_per_request");
  const loadgen::StoredFigures lg =
      loadgen::stored_figures(rep.is_object() && rep.contains("loadgen") ? rep["loadgen"] : json());
  if (name == metric::kRequestsPerS) return lg.requests_per_s;
  if (name == metric::kP50Us) return lg.p50_us;
  if (name == metric::kP99Us) return lg.p99_us;
  if (name == metric::kP999Us) return lg.p99_9_us;
  throw std::invalid_argument("no repetition figure named '" + std::string(name) + "'");
}

Stats3 summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return {med, v.front(), v.back()};
}

json aggregate_case(const json& repetitions) {
  std::vector<double> rps, p50, p99, p999, cpu, cpu_ns, lag50, lag99, lagmax;
  std::map<std::string, std::vector<double>> cost;           // flat keys: "syscalls.recv", "wakeups"...
  std::map<std::string, size_t> cost_nulls;
  size_t used = 0;
  for (const auto& r : repetitions) {
    if (r.value("status", "ok") == "failed") continue;  // kept for the record, not in the figures
    ++used;
    auto add = [](std::vector<double>& to, double v) {
      if (std::isfinite(v)) to.push_back(v);
    };
    const loadgen::StoredFigures lg = loadgen::stored_figures(r.value("loadgen", json::object()));
    add(rps, lg.requests_per_s);
    add(p50, lg.p50_us);
    add(p99, lg.p99_us);
    add(p999, lg.p99_9_us);
    add(lag50, lg.schedule_lag_p50_us);
    add(lag99, lg.schedule_lag_p99_us);
    add(lagmax, lg.schedule_lag_max_us);
    add(cpu, rep_metric(r, metric::kServerCpuUsPerRequest));
    add(cpu_ns, rep_metric(r, metric::kServerCpuNsPerRequest));
    const json& c = r.contains("cost_per_message") ? r["cost_per_message"] : json();
    if (!c.is_object()) continue;
    for (const auto& [k, v] : c.items()) {
      if (v.is_number()) cost[k].push_back(v.get<double>());
      else if (v.is_null()) ++cost_nulls[k];
      else if (v.is_object())
        for (const auto& [name, n] : v.items())
          if (n.is_number()) cost[k + "." + name].push_back(n.get<double>());
    }
  }
  auto obj = [](const std::vector<double>& v) {
    Stats3 s = summarize(v);
    return json{{"median", s.median}, {"min", s.min}, {"max", s.max}};
  };
  json out = {{"repetitions_used", used}, {metric::kRequestsPerS, obj(rps)}, {metric::kP50Us, obj(p50)},
              {metric::kP99Us, obj(p99)}, {metric::kP999Us, obj(p999)}, {metric::kServerCpuUsPerRequest, obj(cpu)},
              {metric::kServerCpuNsPerRequest, obj(cpu_ns)}};
  if (!lag99.empty())
    out["schedule_lag_us"] = {{"p50", summarize(lag50).median}, {"p99", summarize(lag99).median},
                              {"max", summarize(lagmax).max}};
  // Medians per key over the repetitions. A syscall a repetition never made
  // counts as 0 there, so every name's median is over the same repetitions.
  json cpm = nullptr;
  size_t with_cost = cost.count("messages") ? cost["messages"].size() : 0;
  if (with_cost > 0) {
    cpm = {{"syscalls", json::object()}};
    for (auto& [k, v] : cost) {
      if (k.rfind("syscalls.", 0) == 0)
        while (v.size() < with_cost) v.push_back(0);
      double m = summarize(v).median;
      if (k.rfind("syscalls.", 0) == 0) cpm["syscalls"][k.substr(9)] = m;
      else cpm[k] = m;
    }
    for (const auto& [k, n] : cost_nulls)
      if (!cost.count(k)) cpm[k] = nullptr;  // unknown in every repetition
  }
  out["cost_per_message"] = cpm;
  out["kernel_syscalls_per_message"] = cost::aggregate_kernel_syscalls(repetitions);
  out["busy"] = cost::aggregate_busy(repetitions);
  return out;
}

void mark_pending(json& cases) {
  for (auto& c : cases)
    if (c.value("status", "") == "ok" && c.value("repetitions", json::array()).empty()) {
      c["status"] = "skipped";
      c["reason"] = "not run yet: the run is incomplete (harness run --resume DIR finishes it)";
      c["pending"] = true;
    }
}

void unmark_pending(json& record) {
  if (!record.value("pending", false)) return;
  record["status"] = "ok";
  record["reason"] = "";
  record.erase("pending");
}

json to_gbench(const json& run) {
  const json& ctx = run.at("context");
  json out;
  out["context"] = {{"date", ctx.value("date", "")},
                    {"host_name", ctx.value("host", "")},
                    {"executable", "harness"},
                    {"num_cpus", ctx.value("cpus", 0)},
                    {"mhz_per_cpu", 0},
                    {"cpu_scaling_enabled", false},
                    {"caches", json::array()},
                    {"load_avg", json::array()},
                    {"library_build_type", "release"},
                    {"iomodels_suite", run.at("suite").value("name", "")}};
  json benches = json::array();
  int family = 0;
  for (const auto& c : run.at("cases")) {
    if (c.value("status", "") != "ok") continue;  // compare.py needs real_time on every entry
    const std::string name = c.at("name");
    const json& reps = c.at("repetitions");
    if (reps.empty()) continue;  // not run yet (run.json is written as a run starts)
    std::vector<json> entries;
    for (size_t i = 0; i < reps.size(); ++i) {
      const json& r = reps[i];
      auto or_0 = [](double v) { return std::isfinite(v) ? v : 0.0; };
      const loadgen::StoredFigures lg = loadgen::stored_figures(r.value("loadgen", json::object()));
      double rps = or_0(lg.requests_per_s);
      double requests = or_0(lg.requests);
      double cpu_us = or_0(rep_metric(r, metric::kServerCpuUsPerRequest));
      json e = {{"name", name}, {"family_index", family}, {"per_family_instance_index", 0},
                {"run_name", name}, {"run_type", "iteration"},
                {"repetitions", reps.size()}, {"repetition_index", i}, {"threads", 1},
                {"iterations", static_cast<long long>(requests)},
                {"real_time", rps > 0 ? 1e9 / rps : 0.0}, {"cpu_time", cpu_us * 1e3},
                {"time_unit", "ns"}, {"req_per_s", rps}, {"p50_us", or_0(lg.p50_us)},
                {"p99_us", or_0(lg.p99_us)}, {"server_cpu_us_per_req", cpu_us}};
      entries.push_back(e);
      benches.push_back(e);
    }
    for (const char* agg : {"mean", "median"}) {
      json a = entries.front();
      a["name"] = name + "_" + agg;
      a["run_type"] = "aggregate";
      a["aggregate_name"] = agg;
      a["aggregate_unit"] = "time";
      a.erase("repetition_index");
      for (const char* k : {"real_time", "cpu_time", "req_per_s", "p50_us", "p99_us", "server_cpu_us_per_req", "iterations"}) {
        std::vector<double> v;
        for (const auto& e : entries) v.push_back(e[k].get<double>());
        double x = 0;
        if (std::string(agg) == "mean") {
          for (double d : v) x += d;
          x /= static_cast<double>(v.size());
        } else {
          x = summarize(v).median;
        }
        if (std::string(k) == "iterations") a[k] = static_cast<long long>(x);
        else a[k] = x;
      }
      benches.push_back(a);
    }
    ++family;
  }
  out["benchmarks"] = benches;
  return out;
}

json read_run(const std::string& path_or_dir) {
  struct stat st {};
  std::string path = path_or_dir;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) path += "/run.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }
  const std::string schema = j.value("schema", "");
  if (schema != "iomodels.run/1" && schema != "iomodels.run/2")
    throw std::runtime_error(path + ": not an iomodels.run/1 or /2 file");
  return j;
}

}  // namespace iomodels::harness
