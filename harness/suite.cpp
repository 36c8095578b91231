#include "harness/suite.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "harness/cost/callgrind_table.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

const std::vector<std::string> kParamKeys = {
    "protocol", "connections", "size", "pipeline", "rate", "requests_per_connection",
    "idle_connections", "loadgen_threads", "server_threads", "duration", "warmup", "timeout"};

[[noreturn]] void fail(const std::string& field, const std::string& what) {
  throw SuiteError(field + ": " + what);
}

long want_int(const json& v, const std::string& field, long min) {
  if (!v.is_number_integer() || v.get<long>() < min)
    fail(field, "expected an integer >= " + std::to_string(min) + ", got " + v.dump());
  return v.get<long>();
}

double want_number(const json& v, const std::string& field, double min, bool strict) {
  if (!v.is_number()) fail(field, "expected a number, got " + v.dump());
  double d = v.get<double>();
  if (!std::isfinite(d) || d < min || (strict && d == min))
    fail(field, std::string("expected a number ") + (strict ? "> " : ">= ") + std::to_string(min) + ", got " + v.dump());
  return d;
}

void set_param(CaseParams& p, const std::string& key, const json& v, const std::string& field) {
  if (key == "protocol") {
    if (!v.is_string() || (v != "echo" && v != "framed" && v != "http"))
      fail(field, "expected \"echo\", \"framed\" or \"http\", got " + v.dump());
    p.protocol = v.get<std::string>();
  } else if (key == "connections") {
    p.connections = want_int(v, field, 1);
  } else if (key == "size") {
    if (v.is_number_integer()) {
      p.size = std::to_string(want_int(v, field, 1));
    } else if (v.is_string() && !v.get<std::string>().empty() &&
               v.get<std::string>().find_first_not_of("0123456789-") == std::string::npos) {
      p.size = v.get<std::string>();
    } else {
      fail(field, "expected bytes (64) or a range (\"64-4096\"), got " + v.dump());
    }
  } else if (key == "pipeline") {
    p.pipeline = want_int(v, field, 1);
    p.pipeline_set = true;
  } else if (key == "rate") {
    p.rate = want_number(v, field, 0, false);
  } else if (key == "requests_per_connection") {
    p.requests_per_connection = want_int(v, field, 0);
  } else if (key == "idle_connections") {
    p.idle_connections = want_int(v, field, 0);
  } else if (key == "loadgen_threads") {
    p.loadgen_threads = want_int(v, field, 1);
  } else if (key == "server_threads") {
    p.server_threads = want_int(v, field, 0);
  } else if (key == "duration") {
    p.duration_s = want_number(v, field, 0, true);
  } else if (key == "warmup") {
    p.warmup_s = want_number(v, field, 0, false);
  } else if (key == "timeout") {
    p.timeout_s = want_number(v, field, 0, true);
  } else {
    fail(field, "unknown parameter (known: protocol, connections, size, pipeline, rate, "
                "requests_per_connection, idle_connections, loadgen_threads, server_threads, "
                "duration, warmup, timeout)");
  }
}

std::vector<std::string> parse_servers(const json& v, const std::string& field) {
  if (v.is_string() && v == "all") return known_servers();
  if (!v.is_array() || v.empty()) fail(field, "expected \"all\" or a non-empty list of server names");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (!v[i].is_string()) fail(f, "expected a server name");
    const auto& known = known_servers();
    if (std::find(known.begin(), known.end(), v[i].get<std::string>()) == known.end())
      fail(f, "unknown server '" + v[i].get<std::string>() + "'");
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

std::string fmt_number(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

// {"server": ["--a", "b"]} or {"server": [["--a", "b"], ["--a", "c"]]}.
std::map<std::string, std::vector<std::vector<std::string>>> parse_server_args(const json& v, const std::string& field) {
  if (!v.is_object() || v.empty()) fail(field, "expected {\"server\": [args...] or [[args...], ...]}");
  std::map<std::string, std::vector<std::vector<std::string>>> out;
  auto strings = [](const json& a, const std::string& f) {
    if (!a.is_array()) fail(f, "expected a list of argument strings");
    std::vector<std::string> args;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!a[i].is_string()) fail(f + "[" + std::to_string(i) + "]", "expected a string");
      args.push_back(a[i]);
    }
    return args;
  };
  for (const auto& [server, lists] : v.items()) {
    const std::string f = field + "." + server;
    parse_servers(json::array({server}), f);  // throws on an unknown name
    if (!lists.is_array() || lists.empty()) fail(f, "expected a non-empty list");
    if (!lists[0].is_array()) {
      out[server].push_back(strings(lists, f));
      continue;
    }
    for (size_t i = 0; i < lists.size(); ++i) out[server].push_back(strings(lists[i], f + "[" + std::to_string(i) + "]"));
  }
  return out;
}

}  // namespace

std::vector<std::vector<std::string>> SuiteCase::variants(const std::string& server) const {
  auto it = server_args.find(server);
  return it == server_args.end() ? std::vector<std::vector<std::string>>{{}} : it->second;
}

std::string case_name(const std::string& server, const std::vector<std::string>& args, const CaseParams& p) {
  std::string s = server;
  if (!args.empty()) {
    s += "[";
    for (size_t i = 0; i < args.size(); ++i) s += (i ? " " : "") + args[i];
    s += "]";
  }
  return s + "/" + p.id();
}

std::string CaseParams::id() const {
  std::string s = protocol + "/c" + std::to_string(connections) + "/s" + size;
  if (pipeline != 1) s += "/p" + std::to_string(pipeline);
  if (rate > 0) s += "/r" + fmt_number(rate);
  if (idle_connections > 0) s += "/i" + std::to_string(idle_connections);
  if (requests_per_connection > 0) s += "/k" + std::to_string(requests_per_connection);
  if (server_threads > 0) s += "/t" + std::to_string(server_threads);
  return s;
}

nlohmann::json CaseParams::to_json() const {
  return {{"protocol", protocol}, {"connections", connections}, {"size", size},
          {"pipeline", pipeline}, {"rate", rate}, {"requests_per_connection", requests_per_connection},
          {"idle_connections", idle_connections}, {"loadgen_threads", loadgen_threads},
          {"server_threads", server_threads}, {"duration_s", duration_s},
          {"warmup_s", warmup_s}, {"timeout_s", timeout_s}};
}

CaseParams CaseParams::from_json(const nlohmann::json& j) {
  CaseParams p;
  p.protocol = j.value("protocol", p.protocol);
  p.connections = j.value("connections", p.connections);
  if (j.contains("size")) p.size = j["size"].is_string() ? j["size"].get<std::string>() : j["size"].dump();
  p.pipeline = j.value("pipeline", p.pipeline);
  p.pipeline_set = j.contains("pipeline") && p.pipeline != 1;
  p.rate = j.value("rate", p.rate);
  p.requests_per_connection = j.value("requests_per_connection", p.requests_per_connection);
  p.idle_connections = j.value("idle_connections", p.idle_connections);
  p.loadgen_threads = j.value("loadgen_threads", p.loadgen_threads);
  p.server_threads = j.value("server_threads", p.server_threads);
  p.duration_s = j.value("duration_s", p.duration_s);
  p.warmup_s = j.value("warmup_s", p.warmup_s);
  p.timeout_s = j.value("timeout_s", p.timeout_s);
  return p;
}

Suite parse_suite(const json& j, const std::string& file) {
  if (!j.is_object()) fail("(top level)", "expected a JSON object");
  static const std::set<std::string> top = {"name", "description", "repetitions", "servers",
                                            "defaults", "groups", "micro", "callgrind"};
  for (const auto& [k, v] : j.items())
    if (!top.count(k))
      fail(k, "unknown field (known: name, description, repetitions, servers, defaults, groups, micro, callgrind)");
  Suite s;
  s.file = file;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty())
    fail("name", "required, a non-empty string");
  s.name = j["name"];
  if (j.contains("description")) {
    if (!j["description"].is_string()) fail("description", "expected a string");
    s.description = j["description"];
  }
  if (j.contains("repetitions")) s.repetitions = static_cast<int>(want_int(j["repetitions"], "repetitions", 1));
  s.servers = j.contains("servers") ? parse_servers(j["servers"], "servers") : known_servers();

  CaseParams defaults;
  if (j.contains("defaults")) {
    if (!j["defaults"].is_object()) fail("defaults", "expected an object of parameters");
    for (const auto& [k, v] : j["defaults"].items()) set_param(defaults, k, v, "defaults." + k);
  }
  if (j.contains("micro")) {
    if (!j["micro"].is_object()) fail("micro", "expected an object ({} for the defaults)");
    for (const auto& [k, v] : j["micro"].items()) {
      if (k != "min_time" && k != "filter") fail("micro." + k, "unknown field (known: min_time, filter)");
      if (!v.is_string()) fail("micro." + k, "expected a string");
    }
    s.has_micro = true;
    s.micro = j["micro"];
  }
  if (j.contains("callgrind")) {
    try {
      cost::check_callgrind_spec(j["callgrind"]);
    } catch (const std::invalid_argument& e) {
      throw SuiteError(e.what());
    }
    s.callgrind = j["callgrind"];
  }
  if (!j.contains("groups") || !j["groups"].is_array())
    fail("groups", "required, a list of case groups");
  for (size_t g = 0; g < j["groups"].size(); ++g) {
    const json& grp = j["groups"][g];
    const std::string gf = "groups[" + std::to_string(g) + "]";
    if (!grp.is_object()) fail(gf, "expected an object");
    if (grp.contains("name") && (!grp["name"].is_string() || grp["name"].get<std::string>().empty()))
      fail(gf + ".name", "expected a non-empty string");
    std::string gname = grp.contains("name") ? grp["name"].get<std::string>() : "group" + std::to_string(g);
    std::vector<std::string> servers;
    if (grp.contains("servers")) servers = parse_servers(grp["servers"], gf + ".servers");
    std::map<std::string, std::vector<std::vector<std::string>>> server_args;
    if (grp.contains("server_args")) server_args = parse_server_args(grp["server_args"], gf + ".server_args");
    bool aa = false;
    if (grp.contains("aa")) {
      if (!grp["aa"].is_boolean()) fail(gf + ".aa", "expected true or false");
      aa = grp["aa"].get<bool>();
    }
    bool count_syscalls = false;
    if (grp.contains("count_syscalls")) {
      if (!grp["count_syscalls"].is_boolean()) fail(gf + ".count_syscalls", "expected true or false");
      count_syscalls = grp["count_syscalls"].get<bool>();
    }
    const int group_reps = grp.contains("repetitions")
                               ? static_cast<int>(want_int(grp["repetitions"], gf + ".repetitions", 1)) : 0;
    // Cross product of list-valued parameters; scalars are lists of one.
    std::vector<CaseParams> expanded = {defaults};
    for (const auto& [k, v] : grp.items()) {
      if (k == "name" || k == "servers" || k == "server_args" || k == "aa" || k == "repetitions" ||
          k == "count_syscalls")
        continue;
      if (std::find(kParamKeys.begin(), kParamKeys.end(), k) == kParamKeys.end())
        set_param(defaults, k, v, gf + "." + k);  // throws "unknown parameter"
      std::vector<std::pair<json, std::string>> values;
      if (v.is_array()) {
        if (v.empty()) fail(gf + "." + k, "empty list");
        for (size_t i = 0; i < v.size(); ++i) values.push_back({v[i], gf + "." + k + "[" + std::to_string(i) + "]"});
      } else {
        values.push_back({v, gf + "." + k});
      }
      std::vector<CaseParams> next;
      for (const auto& base : expanded)
        for (const auto& [val, field] : values) {
          CaseParams p = base;
          set_param(p, k, val, field);
          next.push_back(p);
        }
      expanded = std::move(next);
    }
    for (auto& p : expanded) {
      if (p.protocol == "http" && p.size != CaseParams{}.size && grp.contains("size"))
        fail(gf + ".size", "http sends a fixed GET; size does not apply");
      s.cases.push_back({gname, p, servers, server_args, aa, group_reps, count_syscalls});
    }
  }
  if (s.cases.empty()) fail("groups", "no cases: add at least one group");
  // Two groups may share parameters (a variant group next to the sweep it
  // contrasts with) as long as no server runs the same thing twice.
  std::set<std::string> seen;
  for (const auto& c : s.cases)
    for (const auto& server : c.servers.empty() ? s.servers : c.servers)
      for (const auto& args : c.variants(server))
        if (!seen.insert(case_name(server, args, c.params)).second)
          fail("groups", "two cases expand to the same parameters '" + case_name(server, args, c.params) + "'");
  return s;
}

Suite load_suite(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw SuiteError(path + ": cannot open");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number too big for a double
    throw SuiteError(path + ": not valid JSON: " + e.what());
  }
  return parse_suite(j, path);
}

}  // namespace iomodels::harness
