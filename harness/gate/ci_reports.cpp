#include "harness/gate/ci_reports.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/atomic_file.h"
#include "harness/run/results.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

// A figure a dashboard plots: where it sits in a case's aggregate, its name
// there, its unit, and whether smaller is better (github-action-benchmark's
// customSmallerIsBetter takes only those).
struct Measure {
  const char* aggregate_key;
  const char* slug;  // Bencher measure slug (created on first upload)
  const char* label;
  const char* unit;
  bool smaller_is_better;
};
constexpr Measure kMeasures[] = {
    {metric::kServerCpuNsPerRequest, "server-cpu-ns-per-request", "server CPU per request", "ns", true},
    {metric::kP50Us, "latency-p50-us", "p50 latency", "us", true},
    {metric::kP99Us, "latency-p99-us", "p99 latency", "us", true},
    {metric::kRequestsPerS, "throughput", "requests per second", "req/s", false},
};

// {"median", "min", "max"} with a positive median, or null.
const json* figure(const json& c, const char* key) {
  if (!c.contains("aggregate") || !c["aggregate"].is_object()) return nullptr;
  const json& a = c["aggregate"];
  if (!a.contains(key) || !a[key].is_object()) return nullptr;
  const json& f = a[key];
  if (!f.contains("median") || !f["median"].is_number() || !(f["median"].get<double>() > 0)) return nullptr;
  return &f;
}

double num(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters but tab and newlines.
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') out += ' ';
        else out += ch;
    }
  }
  return out;
}

// A Markdown table cell: a '|' would end it, a newline the row.
std::string md_cell(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += "\\|";
    else if (ch == '\n' || ch == '\r') out += ' ';
    else out += ch;
  }
  return out;
}

// The verdict of one metric of one case, in words every writer shares.
std::string metric_verdict(const json& c, const json& m) {
  // Only a gated metric has a threshold; the rest (req/s) are shown, never judged.
  if (!m.contains("threshold")) return "info";
  if (!m.value("gated", false)) return "not gated";
  if (m.value("regression", false)) return c.value("verdict", "") == "accepted" ? "accepted" : "regression";
  return "ok";
}

std::string ratio_text(const json& m) {
  if (!m.contains("ratio") || !m["ratio"].is_number()) return "-";
  std::string t = fmt("%.3f", m["ratio"].get<double>());
  if (m.contains("lo") || m.contains("hi"))
    t += " [" + (m.contains("lo") && m["lo"].is_number() ? fmt("%.3f", m["lo"].get<double>()) : std::string("-inf")) +
         ", " + (m.contains("hi") && m["hi"].is_number() ? fmt("%.3f", m["hi"].get<double>()) : std::string("inf")) +
         "]";
  return t;
}

std::string number_text(const json& m, const char* key) {
  double v = num(m, key);
  if (!std::isfinite(v)) return "-";
  return fmt(std::fabs(v) >= 100 ? "%.0f" : "%.3g", v);
}

const json& cases_of(const json& doc) {
  static const json kNone = json::array();
  return doc.contains("cases") && doc["cases"].is_array() ? doc["cases"] : kNone;
}

}  // namespace

json bencher_bmf(const json& run) {
  json out = json::object();
  for (const auto& c : cases_of(run)) {
    json measures = json::object();
    for (const auto& m : kMeasures)
      if (const json* f = figure(c, m.aggregate_key))
        measures[m.slug] = {{"value", num(*f, "median")}, {"lower_value", num(*f, "min")},
                            {"upper_value", num(*f, "max")}};
    if (!measures.empty()) out[c.value("name", "")] = measures;
  }
  return out;
}

json benchmark_action_smaller(const json& run) {
  json out = json::array();
  for (const auto& c : cases_of(run))
    for (const auto& m : kMeasures) {
      if (!m.smaller_is_better) continue;
      const json* f = figure(c, m.aggregate_key);
      if (!f) continue;
      const double half = (num(*f, "max") - num(*f, "min")) / 2;
      out.push_back({{"name", c.value("name", "") + " " + m.label},
                     {"unit", m.unit},
                     {"value", num(*f, "median")},
                     {"range", "± " + fmt("%.4g", std::isfinite(half) ? half : 0.0)},
                     {"extra", "median of " + std::to_string(c["aggregate"].value("repetitions_used", 0)) +
                                   " repetitions; range: half the min-max span"}});
    }
  return out;
}

json bencher_bmf_ab(const json& head_run, const json& ab) {
  json out = bencher_bmf(head_run);
  for (const auto& c : cases_of(ab)) {
    if (!c.contains("metrics") || !c["metrics"].is_object()) continue;
    for (const auto& [key, m] : c["metrics"].items()) {
      if (!m.contains("ratio") || !m["ratio"].is_number()) continue;
      json r = {{"value", m["ratio"]}};
      if (m.contains("lo") && m["lo"].is_number()) r["lower_value"] = m["lo"];
      if (m.contains("hi") && m["hi"].is_number()) r["upper_value"] = m["hi"];
      out[c.value("name", "")]["ratio-" + key] = r;
    }
  }
  return out;
}

json benchmark_action_smaller_ab(const json& head_run, const json& ab) {
  json out = benchmark_action_smaller(head_run);
  for (const auto& c : cases_of(ab)) {
    if (!c.contains("metrics") || !c["metrics"].is_object()) continue;
    for (const auto& [key, m] : c["metrics"].items()) {
      // A ratio of a bigger-is-better figure (req/s) is not "smaller is better".
      if (!m.value("gated", false) || !m.contains("ratio") || !m["ratio"].is_number()) continue;
      out.push_back({{"name", c.value("name", "") + " head/base " + key},
                     {"unit", "ratio"},
                     {"value", m["ratio"]},
                     {"extra", "interval " + ratio_text(m) + "; verdict " + metric_verdict(c, m)}});
    }
  }
  return out;
}

std::string ab_junit_xml(const json& ab) {
  int tests = 0, failures = 0, skipped = 0;
  std::ostringstream body;
  const std::string suite = "harness ab " + ab.value("suite", std::string("(no suite)"));
  auto testcase = [&](const std::string& classname, const std::string& name, const std::string& verdict,
                      const std::string& text) {
    ++tests;
    body << "    <testcase classname=\"" << xml_escape(classname) << "\" name=\"" << xml_escape(name)
         << "\" time=\"0\">\n";
    if (verdict == "regression") {
      ++failures;
      body << "      <failure type=\"regression\" message=\"" << xml_escape(text) << "\">" << xml_escape(text)
           << "</failure>\n";
    } else if (verdict == "not gated") {
      ++skipped;
      body << "      <skipped message=\"" << xml_escape(text) << "\"/>\n";
    } else if (!text.empty()) {
      body << "      <system-out>" << xml_escape(verdict + ": " + text) << "</system-out>\n";
    }
    body << "    </testcase>\n";
  };
  if (!ab.value("comparable", false)) {
    testcase("harness ab", "comparable base", "not gated", "no comparable base: " + ab.value("reason", std::string()));
  }
  for (const auto& c : cases_of(ab)) {
    const std::string name = c.value("name", "");
    std::string verdict = c.value("verdict", "");
    std::string why = c.value("reason", "");
    if (verdict == "accepted") why = "Perf-accepted: " + c.value("accepted_reason", std::string()) + (why.empty() ? "" : "; " + why);
    testcase(name, "verdict", verdict, why);
    if (!c.contains("metrics") || !c["metrics"].is_object()) continue;
    for (const auto& [key, m] : c["metrics"].items()) {
      const std::string v = metric_verdict(c, m);
      std::string text = "head/base " + ratio_text(m);
      if (m.contains("threshold")) text += ", threshold +" + fmt("%.3g", num(m, "threshold") * 100) + "%";
      if (m.contains("p_holm")) text += ", Holm p " + fmt("%.4f", num(m, "p_holm"));
      testcase(name, key, v == "info" ? "ok" : v, text);
    }
  }
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<testsuites name=\"harness ab\" tests=\"" << tests << "\" failures=\"" << failures << "\" errors=\"0\" skipped=\""
    << skipped << "\">\n"
    << "  <testsuite name=\"" << xml_escape(suite) << "\" tests=\"" << tests << "\" failures=\"" << failures
    << "\" errors=\"0\" skipped=\"" << skipped << "\" time=\"" << fmt("%.1f", ab.value("seconds", 0.0)) << "\">\n"
    << body.str() << "  </testsuite>\n</testsuites>\n";
  return x.str();
}

std::string ab_markdown(const json& ab) {
  std::ostringstream md;
  const json& s = ab.contains("summary") ? ab["summary"] : json::object();
  // Every tier's regressions: the capacity and fixed-load tiers are
  // in "summary"; the deterministic and baseline tiers in "tiers".
  int regressions = s.value("regressions", 0);
  if (ab.contains("tiers") && ab["tiers"].is_object())
    for (const auto& [name, t] : ab["tiers"].items())
      if (t.contains("summary")) regressions += t["summary"].value("regressions", 0);
  auto label = [&](const char* side) {
    if (!ab.contains(side)) return std::string("?");
    const json& r = ab[side];
    std::string l = r.value("label", r.value("spec", std::string("?")));
    std::string sha = r.value("sha", std::string());
    return "`" + md_cell(l) + "`" + (sha.empty() || l.find(sha.substr(0, 7)) != std::string::npos
                                         ? ""
                                         : " (`" + sha.substr(0, 7) + "`)");
  };
  if (!ab.value("comparable", false)) {
    md << "## Regression gate: not gated\n\nNo comparable base: " << md_cell(ab.value("reason", std::string()))
       << "\n\nHead " << label("head") << ". This is not a failure.\n";
    return md.str();
  }
  md << "## Regression gate: " << (regressions ? "FAIL" : "pass") << " (" << regressions << " regression"
     << (regressions == 1 ? "" : "s");
  if (s.value("accepted", 0) > 0) md << ", " << s.value("accepted", 0) << " accepted";
  md << ")\n\n"
     << "Base " << label("base") << " vs head " << label("head") << "; suite `" << md_cell(ab.value("suite", std::string()))
     << "`, " << ab.value("rounds", 0) << " rounds (" << md_cell(ab.value("order", std::string())) << "), "
     << fmt("%.0f", ab.value("seconds", 0.0)) << " s. " << s.value("gated", 0) << " of " << s.value("cases", 0)
     << " cases gated.\n\n"
     << "Ratio head/base paired by round, " << fmt("%.0f", s.value("confidence", 0.95) * 100)
     << "% interval in brackets; a metric is a regression when its Holm-adjusted one-sided p is at most "
     << fmt("%.4g", s.value("alpha_one_sided", 0.025)) << " against its threshold.\n\n"
     << "| case | metric | base | head | head/base [interval] | threshold | verdict |\n"
     << "|---|---|---:|---:|---|---:|---|\n";
  for (const auto& c : cases_of(ab)) {
    const std::string name = md_cell(c.value("name", ""));
    std::string verdict = c.value("verdict", "");
    std::string why = c.value("reason", "");
    if (verdict == "accepted") why = "Perf-accepted: " + c.value("accepted_reason", std::string());
    const bool has_metrics = c.contains("metrics") && c["metrics"].is_object() && !c["metrics"].empty();
    if (has_metrics) {
      for (const auto& [key, m] : c["metrics"].items()) {
        std::string v = metric_verdict(c, m);
        if (v == "regression") v = "**regression**";
        md << "| " << name << " | " << md_cell(key) << " | " << number_text(m, "base_median") << " | "
           << number_text(m, "head_median") << " | " << ratio_text(m) << " | "
           << (m.contains("threshold") ? "+" + fmt("%.3g", num(m, "threshold") * 100) + "%" : std::string("-"))
           << " | " << v << " |\n";
      }
    }
    // The case's own verdict where its metrics do not say it all.
    if (!has_metrics || (!why.empty() && verdict != "ok") || (verdict == "regression" && why.empty()))
      md << "| " << name << " | (case) | | | | | " << (verdict == "regression" ? "**regression**" : md_cell(verdict))
         << (why.empty() ? "" : ": " + md_cell(why)) << " |\n";
  }
  if (s.contains("tiers") && s["tiers"].is_object())
    for (const auto& [tier, t] : s["tiers"].items())
      md << "\nTier " << md_cell(tier) << ": " << t.value("gated", 0) << " of " << t.value("cases", 0)
         << " cases gated, " << t.value("regressions", 0) << " regression(s).\n";
  if (ab.contains("tiers") && ab["tiers"].is_object())
    for (const auto& [tier, t] : ab["tiers"].items()) {
      if (!t.contains("cases")) continue;
      const json& ts = t.contains("summary") ? t["summary"] : json::object();
      md << "\n### Tier " << md_cell(tier) << ": " << ts.value("gated", 0) << " of " << ts.value("cases", 0)
         << " cases gated, " << ts.value("regressions", 0) << " regression(s)\n\n| case | verdict |\n|---|---|\n";
      for (const auto& c : t["cases"]) {
        std::string why;
        for (const auto& r : c.value("reasons", json::array())) why += (why.empty() ? "" : "; ") + r.get<std::string>();
        const std::string v = c.value("verdict", "");
        md << "| " << md_cell(c.value("name", "")) << " | " << (v == "regression" ? "**regression**" : md_cell(v))
           << (why.empty() ? "" : ": " + md_cell(why)) << " |\n";
      }
    }
  if (s.contains("power") && s["power"].is_object())
    for (const auto& [key, pw] : s["power"].items())
      if (!pw.value("can_flag", true))
        md << "\n> **Warning:** " << md_cell(key) << ": " << pw.value("pairs", 0) << " pairs over "
           << pw.value("cases", 0) << " cases cannot flag any regression; give the suite at least "
           << pw.value("rounds_for_one_noisy_round", 0) << " repetitions.\n";
  return md.str();
}

void write_ab_reports(const std::string& out_dir, const json& ab, const json& head_run, const std::string& bencher_path,
                      const std::string& benchmark_action_path) {
  write_file_atomic(out_dir + "/ab.junit.xml", ab_junit_xml(ab));
  write_file_atomic(out_dir + "/ab.md", ab_markdown(ab));
  if (!bencher_path.empty()) write_file_atomic(bencher_path, bencher_bmf_ab(head_run, ab).dump(1) + "\n");
  if (!benchmark_action_path.empty())
    write_file_atomic(benchmark_action_path, benchmark_action_smaller_ab(head_run, ab).dump(1) + "\n");
}

void write_run_reports(const json& run, const std::string& bencher_path, const std::string& benchmark_action_path) {
  if (!bencher_path.empty()) write_file_atomic(bencher_path, bencher_bmf(run).dump(1) + "\n");
  if (!benchmark_action_path.empty())
    write_file_atomic(benchmark_action_path, benchmark_action_smaller(run).dump(1) + "\n");
}

}  // namespace iomodels::harness
