#include "harness/run/suite.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>
#include <variant>

#include "harness/cost/callgrind_table.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

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

std::string fmt_number(double d) {
  std::ostringstream s;
  s << d;
  return s.str();
}

// Every case parameter (IOMODELS_CASE_PARAMS in suite.h), as one row each:
// parsing, the "known:" list, to_json, from_json and the loadgen's argv all
// read this table.
using ParamMember = std::variant<std::string CaseParams::*, long CaseParams::*, double CaseParams::*>;
struct ParamSpec {
  const char* key;       // in suite files
  const char* json_key;  // in run.json's "params"
  ParamMember member;
  double min;            // integers and numbers: the least value allowed...
  bool strict;           // ...excluded (numbers only)
  const char* loadgen;   // option, or nullptr where the loadgen does not take it
};

const ParamSpec kParams[] = {
#define IOMODELS_CASE_PARAM_SPEC(type, member, fallback, key, json_key, min, strict, loadgen) \
  {key, json_key, &CaseParams::member, min, strict, loadgen},
    IOMODELS_CASE_PARAMS(IOMODELS_CASE_PARAM_SPEC)
#undef IOMODELS_CASE_PARAM_SPEC
};

const ParamSpec* find_param(const std::string& key) {
  for (const auto& spec : kParams)
    if (key == spec.key) return &spec;
  return nullptr;
}

std::string known_params() {
  std::string s;
  for (const auto& spec : kParams) s += (s.empty() ? "" : ", ") + std::string(spec.key);
  return s;
}

// The checks a value of a string parameter needs beyond being a string.
std::string want_text(const ParamSpec& spec, const json& v, const std::string& field) {
  if (spec.member == ParamMember{&CaseParams::protocol}) {
    if (!v.is_string() || (v != "echo" && v != "framed" && v != "http"))
      fail(field, "expected \"echo\", \"framed\" or \"http\", got " + v.dump());
    return v.get<std::string>();
  }
  // size: bytes (64) or a range ("64-4096")
  if (v.is_number_integer()) return std::to_string(want_int(v, field, 1));
  if (v.is_string() && !v.get<std::string>().empty() &&
      v.get<std::string>().find_first_not_of("0123456789-") == std::string::npos)
    return v.get<std::string>();
  fail(field, "expected bytes (64) or a range (\"64-4096\"), got " + v.dump());
}

void set_param(CaseParams& p, const std::string& key, const json& v, const std::string& field) {
  const ParamSpec* spec = find_param(key);
  if (!spec) fail(field, "unknown parameter (known: " + known_params() + ")");
  std::visit(
      [&](auto member) {
        using T = std::remove_cvref_t<decltype(p.*member)>;
        if constexpr (std::is_same_v<T, std::string>) p.*member = want_text(*spec, v, field);
        else if constexpr (std::is_same_v<T, long>) p.*member = want_int(v, field, static_cast<long>(spec->min));
        else p.*member = want_number(v, field, spec->min, spec->strict);
      },
      spec->member);
  if (spec->member == ParamMember{&CaseParams::pipeline}) p.pipeline_set = true;
}

// The servers a suite may name: this build's list (read when first needed,
// so a file with another mistake is reported without it), or a given one.
struct ServerNames {
  const std::vector<std::string>* given;
  const std::vector<std::string>& get() const { return given ? *given : known_servers(); }
};

std::string want_server(const json& v, const std::string& field, const ServerNames& known) {
  if (!v.is_string()) fail(field, "expected a server name");
  const auto& names = known.get();
  if (std::find(names.begin(), names.end(), v.get<std::string>()) == names.end())
    fail(field, "unknown server '" + v.get<std::string>() + "'");
  return v.get<std::string>();
}

// "all", {"all_except": [names...]} (every server of the list but those, in
// list order) or a non-empty list of names.
std::vector<std::string> parse_servers(const json& v, const std::string& field, const ServerNames& known) {
  if (v.is_string() && v == "all") return known.get();
  if (v.is_object()) {
    if (v.size() != 1 || !v.contains("all_except"))
      fail(field, "expected {\"all_except\": [server names]}, got " + v.dump());
    const json& out_list = v["all_except"];
    const std::string f = field + ".all_except";
    if (!out_list.is_array() || out_list.empty()) fail(f, "expected a non-empty list of server names");
    std::set<std::string> left_out;
    for (size_t i = 0; i < out_list.size(); ++i)
      left_out.insert(want_server(out_list[i], f + "[" + std::to_string(i) + "]", known));
    std::vector<std::string> out;
    for (const auto& s : known.get())
      if (!left_out.count(s)) out.push_back(s);
    if (out.empty()) fail(f, "leaves no server to run");
    return out;
  }
  if (!v.is_array() || v.empty())
    fail(field, "expected \"all\", {\"all_except\": [...]} or a non-empty list of server names");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(want_server(v[i], field + "[" + std::to_string(i) + "]", known));
  return out;
}

// {"server": ["--a", "b"]} or {"server": [["--a", "b"], ["--a", "c"]]}.
std::map<std::string, std::vector<std::vector<std::string>>> parse_server_args(const json& v, const std::string& field,
                                                                              const ServerNames& known) {
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
    want_server(server, f, known);
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

CaseLabel case_label(const std::string& server, const std::vector<std::string>& args, const CaseParams& p) {
  CaseLabel label{server, "", p.id(), ""};
  for (size_t i = 0; i < args.size(); ++i) label.variant += (i ? " " : "") + args[i];
  return label;
}

std::string CaseLabel::name() const {
  std::string s = tier.empty() ? "" : tier + "/";
  s += server;
  if (!variant.empty()) s += "[" + variant + "]";
  return s + "/" + case_id;
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
  json j = json::object();
  for (const auto& spec : kParams) std::visit([&](auto member) { j[spec.json_key] = this->*member; }, spec.member);
  return j;
}

CaseParams CaseParams::from_json(const nlohmann::json& j) {
  CaseParams p;
  bool named_pipeline = false;
  for (const auto& spec : kParams) {
    if (!j.contains(spec.json_key)) continue;
    named_pipeline = named_pipeline || spec.member == ParamMember{&CaseParams::pipeline};
    const json& v = j[spec.json_key];
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(p.*member)>;
          if constexpr (std::is_same_v<T, std::string>) p.*member = v.is_string() ? v.get<std::string>() : v.dump();
          else p.*member = v.get<T>();
        },
        spec.member);
  }
  p.pipeline_set = named_pipeline && p.pipeline != 1;
  return p;
}

std::vector<std::string> CaseParams::loadgen_args() const {
  std::vector<std::string> a;
  for (const auto& spec : kParams) {
    // Only when the suite says so: the loadgen's own default differs between
    // closed loop (1) and open loop (a cap), and open-loop cases need the latter.
    if (!spec.loadgen || (spec.member == ParamMember{&CaseParams::pipeline} && !pipeline_set)) continue;
    a.push_back(spec.loadgen);
    std::visit(
        [&](auto member) {
          using T = std::remove_cvref_t<decltype(this->*member)>;
          if constexpr (std::is_same_v<T, std::string>) a.push_back(this->*member);
          else if constexpr (std::is_same_v<T, long>) a.push_back(std::to_string(this->*member));
          else a.push_back(fmt_number(this->*member));
        },
        spec.member);
  }
  return a;
}

Suite parse_suite(const json& j, const std::string& file, const std::vector<std::string>* server_list) {
  const ServerNames known{server_list};
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
  s.servers = j.contains("servers") ? parse_servers(j["servers"], "servers", known) : known.get();

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
    if (grp.contains("servers")) servers = parse_servers(grp["servers"], gf + ".servers", known);
    std::map<std::string, std::vector<std::vector<std::string>>> server_args;
    if (grp.contains("server_args")) server_args = parse_server_args(grp["server_args"], gf + ".server_args", known);
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
      if (!find_param(k)) set_param(defaults, k, v, gf + "." + k);  // throws "unknown parameter"
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
  try {
    return parse_suite(j, path);
  } catch (const SuiteError& e) {
    throw SuiteError(path + ": " + e.what());  // "harness/suites/c10k.json: servers.all_except[0]: ..."
  }
}

}  // namespace iomodels::harness
