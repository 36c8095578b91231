// --link: netem's delay, jitter, distribution, loss and rate, as one spec
// that either netem or the userspace delay line applies (topology.h).
#include <sstream>
#include <stdexcept>

#include "harness/remote/topology.h"

namespace iomodels::harness {
namespace {

double parse_ms(const std::string& key, const std::string& v) {
  size_t used = 0;
  double x = -1;
  try { x = std::stod(v, &used); } catch (const std::logic_error&) {}
  std::string unit = v.substr(used);
  if (x < 0 || (unit != "ms" && unit != "us" && unit != "s"))
    throw std::invalid_argument("--link " + key + "=" + v + ": want a time like 5ms, 500us or 1s");
  return unit == "ms" ? x : unit == "us" ? x / 1000 : x * 1000;
}

}  // namespace

std::vector<std::string> LinkSpec::netem_args() const {
  std::vector<std::string> a{"netem"};
  auto ms = [](double v) { std::ostringstream o; o << v << "ms"; return o.str(); };
  if (delay_ms > 0 || jitter_ms > 0) {
    a.push_back("delay");
    a.push_back(ms(delay_ms));
    if (jitter_ms > 0) a.push_back(ms(jitter_ms));
    if (jitter_ms > 0 && !distribution.empty()) { a.push_back("distribution"); a.push_back(distribution); }
  }
  if (loss_pct > 0) { std::ostringstream o; o << loss_pct << "%"; a.push_back("loss"); a.push_back(o.str()); }
  if (!rate.empty()) { a.push_back("rate"); a.push_back(rate); }
  return a;
}

std::string LinkSpec::beyond_delayline() const {
  if (!rate.empty()) return "rate";
  if (distribution == "pareto" || distribution == "paretonormal") return "distribution=" + distribution;
  return "";
}

nlohmann::json LinkSpec::to_json() const {
  if (empty()) return nullptr;
  nlohmann::json j = {{"delay_ms", delay_ms}, {"jitter_ms", jitter_ms}, {"loss_pct", loss_pct},
                      {"rate", rate}, {"rtt_ms", 2 * delay_ms}};
  if (jitter_ms > 0) j["distribution"] = distribution.empty() ? "uniform" : distribution;
  return j;
}

LinkSpec parse_link(const std::string& text) {
  LinkSpec l;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--link: '" + item + "' is not key=value");
    std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    if (k == "delay") l.delay_ms = parse_ms(k, v);
    else if (k == "jitter") l.jitter_ms = parse_ms(k, v);
    else if (k == "distribution") {
      if (v != "uniform" && v != "normal" && v != "pareto" && v != "paretonormal")
        throw std::invalid_argument("--link distribution=" + v + ": want uniform, normal, pareto or paretonormal");
      l.distribution = v;
    }
    else if (k == "loss") {
      size_t used = 0;
      double x = -1;
      try { x = std::stod(v, &used); } catch (const std::logic_error&) {}
      if (x < 0 || x > 100 || v.substr(used) != "%")
        throw std::invalid_argument("--link loss=" + v + ": want a percentage like 0.1%");
      l.loss_pct = x;
    } else if (k == "rate") {
      size_t digits = v.find_first_not_of("0123456789.");
      std::string unit = digits == std::string::npos ? "" : v.substr(digits);
      if (digits == 0 || (unit != "kbit" && unit != "mbit" && unit != "gbit" && unit != "bit"))
        throw std::invalid_argument("--link rate=" + v + ": want e.g. 100mbit or 1gbit");
      l.rate = v;
    } else {
      throw std::invalid_argument("--link: unknown key '" + k + "' (delay, jitter, distribution, loss, rate)");
    }
  }
  if (!l.distribution.empty() && l.jitter_ms == 0)
    throw std::invalid_argument("--link distribution=" + l.distribution + ": needs a jitter (netem's rule)");
  return l;
}

}  // namespace iomodels::harness
