// Suite-level parsing of the callgrind entry: kept apart from the probes so
// that the suite parser (and its fuzzer) links without processes or valgrind.
#include <stdexcept>

#include "harness/cost/callgrind_table.h"

namespace iomodels::harness::cost {

using nlohmann::json;

bool parse_workload(const std::string& key, CostProbe& into) {
  // protocol/cN[/sSIZE]
  const size_t a = key.find('/');
  if (a == std::string::npos) return false;
  const std::string protocol = key.substr(0, a);
  if (protocol != "echo" && protocol != "framed" && protocol != "http") return false;
  std::string rest = key.substr(a + 1);
  const size_t b = rest.find('/');
  const std::string c = rest.substr(0, b);
  if (c.size() < 2 || c[0] != 'c') return false;
  int conns = 0;
  try {
    size_t used = 0;
    conns = std::stoi(c.substr(1), &used);
    if (used != c.size() - 1 || conns < 1 || conns > 10000) return false;
  } catch (const std::exception&) {
    return false;
  }
  std::string size = "64";
  if (b != std::string::npos) {
    const std::string s = rest.substr(b + 1);
    if (s.size() < 2 || s[0] != 's' || protocol == "http" || s.find_first_not_of("0123456789", 1) != std::string::npos)
      return false;
    size = s.substr(1);
  }
  into.protocol = protocol;
  into.connections = conns;
  into.size = size;
  return true;
}

void check_callgrind_spec(const json& spec) {
  auto bad = [](const std::string& field, const std::string& what) {
    throw std::invalid_argument("callgrind" + field + ": " + what);
  };
  if (!spec.is_object()) bad("", "expected an object {\"workloads\": [...], \"requests\": [LOW, HIGH]}");
  for (const auto& [k, v] : spec.items())
    if (k != "workloads" && k != "requests") bad("." + k, "unknown field (known: workloads, requests)");
  if (!spec.contains("workloads") || !spec["workloads"].is_array() || spec["workloads"].empty())
    bad(".workloads", "required, a non-empty list like [\"echo/c1/s64\", \"http/c1\"]");
  for (size_t i = 0; i < spec["workloads"].size(); ++i) {
    CostProbe p;
    const json& w = spec["workloads"][i];
    if (!w.is_string() || !parse_workload(w.get<std::string>(), p))
      bad(".workloads[" + std::to_string(i) + "]", "expected PROTOCOL/cN[/sSIZE], e.g. echo/c16/s64");
  }
  if (spec.contains("requests")) {
    const json& r = spec["requests"];
    if (!r.is_array() || r.size() != 2 || !r[0].is_number_unsigned() || !r[1].is_number_unsigned() ||
        r[0].get<uint64_t>() < 1 || r[1].get<uint64_t>() <= r[0].get<uint64_t>())
      bad(".requests", "expected [LOW, HIGH] with 1 <= LOW < HIGH");
  }
}

}  // namespace iomodels::harness::cost
