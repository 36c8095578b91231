#include "loadgen/result.h"
#include "core/version.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <stdexcept>

namespace iomodels::loadgen {
using nlohmann::json;

namespace {

double us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

json buckets_json(const Histogram& h) {
  json b = json::array();
  for (const auto& [lo, n] : h.buckets()) b.push_back({lo, n});
  return b;
}

// A count or a nanosecond value from a result file: a JSON number that is a
// non-negative integer. A float (say 5.5e137 in a hostile merge input) would
// be undefined behaviour to convert, so it is refused like any other bad field.
uint64_t checked_u64(const json& v, const char* what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  throw std::runtime_error(std::string(what) + " must be a non-negative integer");
}

// obj[key] as a count, 0 when the key is absent (older files lack some).
uint64_t u64_or_0(const json& obj, const char* key) {
  return obj.contains(key) ? checked_u64(obj.at(key), key) : 0;
}

// Seconds of a timeseries entry: bounded, since r.seconds is sized by it.
constexpr uint64_t kMaxSeriesSeconds = 7 * 24 * 3600;

// Rebuilds a histogram from its buckets and, when known, the exact min/max
// (recorded as one of the counts of their own bucket, so the counts stay
// identical and min()/max() come back exact).
Histogram rebuild(const json& buckets, uint64_t min_ns, uint64_t max_ns) {
  Histogram h;
  std::vector<std::pair<uint64_t, uint64_t>> b;
  for (const auto& e : buckets) b.emplace_back(checked_u64(e.at(0), "histogram: bucket value"), checked_u64(e.at(1), "histogram: bucket count"));
  if (b.empty()) return h;
  auto place = [&](uint64_t exact) {
    // The bucket holding `exact` is the last one whose lowest value is <= it.
    auto it = std::upper_bound(b.begin(), b.end(), std::make_pair(exact, UINT64_MAX));
    if (it == b.begin()) return;
    --it;
    if (it->second == 0) return;
    h.record(exact, 1);
    --it->second;
  };
  if (min_ns) place(min_ns);
  if (max_ns) place(max_ns);  // a lone sample was placed by min already: count 0, skipped
  for (const auto& [lo, n] : b) h.record(lo, n);
  return h;
}

}  // namespace

json histogram_json(const Histogram& h) {
  return {{"unit", "ns"},
          {"significant_digits", Histogram::kSignificantDigits},
          {"count", h.count()},
          {"min", h.min()},
          {"max", h.max()},
          {"buckets", buckets_json(h)}};
}

Histogram histogram_from_json(const json& j) {
  if (!j.is_object() || j.value("unit", "") != "ns" || !j.contains("buckets"))
    throw std::runtime_error("histogram: expected {\"unit\": \"ns\", \"buckets\": [...]}");
  return rebuild(j.at("buckets"), j.contains("min") ? checked_u64(j["min"], "histogram: min") : 0,
                 j.contains("max") ? checked_u64(j["max"], "histogram: max") : 0);
}

json latency_summary_json(const Histogram& h) {
  return {{"count", h.count()},
          {"min", us(h.min())},
          {"mean", round3(h.mean() / 1000.0)},
          {"stdev", round3(h.stdev() / 1000.0)},
          {"p50", us(h.value_at_percentile(50))},
          {"p90", us(h.value_at_percentile(90))},
          {"p99", us(h.value_at_percentile(99))},
          {"p99_9", us(h.value_at_percentile(99.9))},
          {"p99_99", us(h.value_at_percentile(99.99))},
          {"max", us(h.max())}};
}

json context_json() {
  char date[32];
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  utsname u{};
  ::uname(&u);
  return {{"date", date},
          {"host", host},
          {"kernel", u.release},
          {"cpus", ::sysconf(_SC_NPROCESSORS_ONLN)},
          {"version", iomodels::git_sha()}};
}

json config_json(const Options& o, int source_addresses) {
  return {{"target", o.target},
          {"address_family", family_name(o.addr.family())},
          {"protocol", protocol_name(o.protocol)},
          {"connections", o.connections},
          {"threads", o.threads},
          {"size", o.protocol == Protocol::kHttp ? 0 : o.size_min},
          {"size_max", o.protocol == Protocol::kHttp ? 0 : o.size_max},
          {"pipeline", o.pipeline},
          {"rate", o.rate},
          {"duration_s", o.duration_s},
          {"warmup_s", o.warmup_s},
          {"requests", o.requests},
          {"requests_per_connection", o.requests_per_connection},
          {"idle_connections", o.idle_connections},
          {"timeout_s", o.timeout_s},
          {"close_mode", o.close_mode == CloseMode::kFin ? "fin" : "rst"},
          {"source_addresses", source_addresses},
          {"seed", o.seed}};
}

namespace {

void add_seconds(std::vector<SecondStats>& into, const std::vector<SecondStats>& from) {
  if (into.size() < from.size()) into.resize(from.size());
  for (size_t i = 0; i < from.size(); ++i) {
    into[i].requests += from[i].requests;
    into[i].errors += from[i].errors;
    into[i].latency.merge(from[i].latency);
    into[i].schedule_lag.merge(from[i].schedule_lag);
  }
}

}  // namespace

void RunResult::add_counters(const WorkerStats& w) {
  requests += w.requests;
  sent += w.sent;
  unsent += w.unsent;
  lost.add(w.lost);
  bytes_sent += w.bytes_sent;
  bytes_received += w.bytes_received;
  cpu_user_s += w.cpu_user_s;
  cpu_sys_s += w.cpu_sys_s;
  if (w.window_wall_ns > 0)
    thread_cpu_max = std::max(thread_cpu_max, static_cast<double>(w.window_cpu_ns) / static_cast<double>(w.window_wall_ns));
  errors.add(w.errors);
  schedule.add(w.schedule);
  conns.add(w.conns);
  corrected.merge(w.corrected);
  uncorrected.merge(w.uncorrected);
  connect.merge(w.connect);
  schedule_lag.merge(w.schedule_lag);
  add_seconds(seconds, w.seconds);
}

void RunResult::merge(const RunResult& o) {
  duration_s = std::max(duration_s, o.duration_s);
  requests += o.requests;
  sent += o.sent;
  unsent += o.unsent;
  lost.add(o.lost);
  bytes_sent += o.bytes_sent;
  bytes_received += o.bytes_received;
  cpu_user_s += o.cpu_user_s;
  cpu_sys_s += o.cpu_sys_s;
  thread_cpu_max = std::max(thread_cpu_max, o.thread_cpu_max);
  if (o.window_start_ns && (!window_start_ns || o.window_start_ns < window_start_ns)) window_start_ns = o.window_start_ns;
  window_end_ns = std::max(window_end_ns, o.window_end_ns);
  if (accept_queue != o.accept_queue) accept_queue = "mixed";
  target_rate += o.target_rate;
  errors.add(o.errors);
  schedule.add(o.schedule);
  conns.add(o.conns);
  idle.requested += o.idle.requested;
  idle.opened += o.idle.opened;
  idle.failed += o.idle.failed;
  idle.closed_by_peer += o.idle.closed_by_peer;
  corrected.merge(o.corrected);
  uncorrected.merge(o.uncorrected);
  connect.merge(o.connect);
  schedule_lag.merge(o.schedule_lag);
  add_seconds(seconds, o.seconds);
}

double RunResult::requests_per_s() const {
  return round3(static_cast<double>(requests) / (duration_s > 0 ? duration_s : 1e-9));
}

json to_json(const RunResult& r) {
  double d = r.duration_s > 0 ? r.duration_s : 1e-9;
  double cpu = r.cpu_user_s + r.cpu_sys_s;
  json errors = json::object();
  for (size_t i = 0; i < kErrorNames.size(); ++i) errors[kErrorNames[i]] = r.errors.n[i];
  json lost = json::object();
  for (size_t i = 0; i < kLostNames.size(); ++i) lost[kLostNames[i]] = r.lost.n[i];
  lost["total"] = r.lost.total();
  std::string close_mode = r.config.value("close_mode", "fin");
  json summary = {
      {"duration_s", round3(r.duration_s)},
      {"requests", r.requests},
      {"bytes_sent", r.bytes_sent},
      {"bytes_received", r.bytes_received},
      {json_field::kRequestsPerS, r.requests_per_s()},
      {"mib_per_s", round3(static_cast<double>(r.bytes_received) / d / (1024.0 * 1024.0))},
      {"loadgen_cpu_s", round3(cpu)},
      {"loadgen_cpu_user_s", round3(r.cpu_user_s)},
      {"loadgen_cpu_sys_s", round3(r.cpu_sys_s)},
      {"loadgen_cpu_us_per_request", r.requests ? round3(cpu * 1e6 / static_cast<double>(r.requests)) : 0.0},
      {"requests_unfinished", r.lost[LostCause::kEndOfRun]},
      {"sent", r.sent},
      {"lost", lost},
      {"unsent", r.unsent},
      {"window", {{"start_ns", r.window_start_ns}, {"end_ns", r.window_end_ns}}},
      {"accept_queue", r.accept_queue.empty() ? json(nullptr) : json(r.accept_queue)},
      {"loadgen_thread_cpu_max", round3(r.thread_cpu_max)},
      {"errors", errors},
      {"open_loop",
       {{"target_rate", r.target_rate},
        {"achieved_rate", r.requests_per_s()},
        {"late_threshold_us", 1000},
        {"late_dispatches", r.schedule.late_dispatches},
        {"max_dispatch_lag_us", us(r.schedule.max_dispatch_lag_ns)},
        {"deferred_sends", r.schedule.deferred_sends},
        {"max_send_lag_us", us(r.schedule_lag.max())},
        {"due", r.schedule.due},
        {"unsent_at_end", r.schedule.unsent_at_end}}},
      {"connections",
       {{"opened", r.conns.opened},
        {"closed_by_client", r.conns.closed_by_client},
        {"closed_by_server", r.conns.closed_by_server},
        {"closed_after_error", r.conns.closed_after_error},
        {"close_mode", close_mode},
        {"client_close_effect", close_mode == "rst" ? "RST (SO_LINGER 0): no TIME_WAIT, server sees a reset"
                                                     : "FIN (close): TIME_WAIT stays on the client side"}}},
      {"idle",
       {{"requested", r.idle.requested},
        {"opened", r.idle.opened},
        {"failed", r.idle.failed},
        {"closed_by_peer", r.idle.closed_by_peer}}}};
  json ts = json::array();
  for (size_t i = 0; i < r.seconds.size(); ++i) {
    const SecondStats& s = r.seconds[i];
    const Histogram latency = s.latency.expand();
    json e = {{"t_s", i + 1},
              {"requests", s.requests},
              {"errors", s.errors},
              {"p50_us", us(latency.value_at_percentile(50))},
              {"p99_us", us(latency.value_at_percentile(99))},
              {"min_ns", latency.min()},
              {"max_ns", latency.max()},
              {"buckets", buckets_json(latency)}};
    // The loadgen's own schedule per second: a long run shows whether it
    // keeps time at the end as at the start (absent in merged files).
    if (!s.schedule_lag.empty()) {
      const Histogram lag = s.schedule_lag.expand();
      e["sends"] = lag.count();
      e["schedule_lag_p99_us"] = us(lag.value_at_percentile(99));
      e["schedule_lag_max_us"] = us(lag.max());
    }
    ts.push_back(std::move(e));
  }
  return {{"schema", "iomodels.loadgen/1"},
          {"context", r.context},
          {"config", r.config},
          {"summary", summary},
          {"latency_us", latency_summary_json(r.corrected)},
          {"latency_uncorrected_us", latency_summary_json(r.uncorrected)},
          {"connect_us", latency_summary_json(r.connect)},
          {"schedule_lag_us", latency_summary_json(r.schedule_lag)},
          {"histogram", histogram_json(r.corrected)},
          {"histograms",
           {{"latency_uncorrected", histogram_json(r.uncorrected)},
            {"connect", histogram_json(r.connect)},
            {"schedule_lag", histogram_json(r.schedule_lag)}}},
          {"timeseries", ts}};
}

StoredFigures stored_figures(const json& j) {
  auto at = [&](const char* object, const char* key) -> double {
    if (!j.is_object() || !j.contains(object) || !j[object].is_object()) return NAN;
    const json& o = j[object];
    return o.contains(key) && o[key].is_number() ? o[key].get<double>() : NAN;
  };
  return {at("summary", "requests"),        at("summary", json_field::kRequestsPerS), at("latency_us", "p50"),
          at("latency_us", "p99"),          at("latency_us", "p99_9"),       at("schedule_lag_us", "p50"),
          at("schedule_lag_us", "p99"),     at("schedule_lag_us", "max")};
}

RunResult from_json(const json& j) {
  if (!j.is_object() || j.value("schema", "") != "iomodels.loadgen/1")
    throw std::runtime_error("not a loadgen result (\"schema\" is not \"iomodels.loadgen/1\")");
  RunResult r;
  r.context = j.at("context");
  r.config = j.at("config");
  const json& s = j.at("summary");
  r.duration_s = s.at("duration_s").get<double>();
  r.requests = checked_u64(s.at("requests"), "requests");
  r.bytes_sent = checked_u64(s.at("bytes_sent"), "bytes_sent");
  r.bytes_received = checked_u64(s.at("bytes_received"), "bytes_received");
  r.sent = u64_or_0(s, "sent");
  r.unsent = u64_or_0(s, "unsent");
  if (s.contains("lost")) {
    for (size_t i = 0; i < kLostNames.size(); ++i) r.lost.n[i] = u64_or_0(s.at("lost"), kLostNames[i]);
  } else {
    r.lost[LostCause::kEndOfRun] = u64_or_0(s, "requests_unfinished");  // older files
  }
  if (s.contains("window")) {
    r.window_start_ns = u64_or_0(s.at("window"), "start_ns");
    r.window_end_ns = u64_or_0(s.at("window"), "end_ns");
  }
  if (s.contains("accept_queue") && s.at("accept_queue").is_string()) r.accept_queue = s.at("accept_queue");
  r.thread_cpu_max = s.value("loadgen_thread_cpu_max", 0.0);
  r.cpu_user_s = s.value("loadgen_cpu_user_s", s.at("loadgen_cpu_s").get<double>());
  r.cpu_sys_s = s.value("loadgen_cpu_sys_s", 0.0);
  for (size_t i = 0; i < kErrorNames.size(); ++i)
    r.errors.n[i] = u64_or_0(s.at("errors"), kErrorNames[i]);
  if (s.contains("open_loop")) {
    const json& o = s.at("open_loop");
    r.target_rate = o.value("target_rate", 0.0);
    r.schedule.late_dispatches = u64_or_0(o, "late_dispatches");
    r.schedule.deferred_sends = u64_or_0(o, "deferred_sends");
    r.schedule.unsent_at_end = u64_or_0(o, "unsent_at_end");
    const double lag_us = o.value("max_dispatch_lag_us", 0.0);
    if (!(lag_us >= 0 && lag_us < 1e15)) throw std::runtime_error("open_loop.max_dispatch_lag_us out of range");
    r.schedule.max_dispatch_lag_ns = static_cast<uint64_t>(lag_us * 1000);
    r.schedule.due = u64_or_0(o, "due");
  }
  if (s.contains("connections")) {
    const json& c = s.at("connections");
    r.conns.opened = u64_or_0(c, "opened");
    r.conns.closed_by_client = u64_or_0(c, "closed_by_client");
    r.conns.closed_by_server = u64_or_0(c, "closed_by_server");
    r.conns.closed_after_error = u64_or_0(c, "closed_after_error");
  }
  if (s.contains("idle")) {
    const json& c = s.at("idle");
    r.idle = {u64_or_0(c, "requested"), u64_or_0(c, "opened"),
              u64_or_0(c, "failed"), u64_or_0(c, "closed_by_peer")};
  }
  r.corrected = histogram_from_json(j.at("histogram"));
  if (j.contains("histograms")) {
    const json& h = j.at("histograms");
    if (h.contains("latency_uncorrected")) r.uncorrected = histogram_from_json(h.at("latency_uncorrected"));
    if (h.contains("connect")) r.connect = histogram_from_json(h.at("connect"));
    if (h.contains("schedule_lag")) r.schedule_lag = histogram_from_json(h.at("schedule_lag"));
  }
  for (const json& e : j.at("timeseries")) {
    const uint64_t t = checked_u64(e.at("t_s"), "timeseries t_s");
    if (t > kMaxSeriesSeconds) throw std::runtime_error("timeseries t_s is past a week");
    if (t == 0) continue;
    if (r.seconds.size() < t) r.seconds.resize(t);
    SecondStats& sec = r.seconds[t - 1];
    sec.requests += checked_u64(e.at("requests"), "requests");
    sec.errors += checked_u64(e.at("errors"), "errors");
    if (e.contains("buckets"))
      sec.latency.add(rebuild(e.at("buckets"), u64_or_0(e, "min_ns"), u64_or_0(e, "max_ns")));
  }
  return r;
}

}  // namespace iomodels::loadgen
