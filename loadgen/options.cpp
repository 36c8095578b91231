#include "loadgen/options.h"
#include "core/version.h"

#include <fcntl.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <sstream>

#include "core/socket_util.h"
#include "loadgen/hdr_log.h"

namespace iomodels::loadgen {
namespace po = boost::program_options;

namespace {

[[noreturn]] void bad(const std::string& option, const std::string& why) {
  throw UsageError("--" + option + ": " + why);
}

void check_seconds(const std::string& name, double v, bool zero_ok) {
  if (!std::isfinite(v) || v < 0 || (!zero_ok && v == 0))
    bad(name, zero_ok ? "must be >= 0 seconds" : "must be > 0 seconds");
  if (v > 86400) bad(name, "must be <= 86400 seconds");
}

// Counts are parsed as signed so that "-1" is refused rather than wrapped;
// times as text so that they may carry a unit.
struct Counts {
  int64_t requests = 0, per_connection = 0, seed = 1;
  std::string duration = "10s", warmup = "0", timeout = "5s";
};

po::options_description describe(Options& o, Counts& n, std::string& protocol, std::string& size,
                                 std::string& progress, std::string& close_mode) {
  po::options_description d(
      "loadgen: load generator for the iomodels servers (echo, framed, http)\n\n"
      "usage: loadgen --target HOST:PORT [options]\n"
      "       loadgen merge A.json B.hlog ...   (merged result JSON on stdout; .hlog: HdrHistogram interval logs)\n\n"
      "options");
  d.add_options()
      ("help,h", "print this help and exit")
      ("version", "print the version and exit")
      ("target", po::value(&o.target)->default_value(o.target),
       "server to load, HOST:PORT: 127.0.0.1:7000, [::1]:7000, or a name in either family "
       "(localhost is always 127.0.0.1)")
      ("protocol", po::value(&protocol)->default_value("echo"),
       "echo | framed | http (http sends a fixed GET, --size is ignored)")
      ("connections,c", po::value(&o.connections)->default_value(o.connections),
       "active connections, spread over the threads")
      ("threads,t", po::value(&o.threads)->default_value(o.threads),
       "worker threads, each with its own epoll loop and connections")
      ("duration,d", po::value(&n.duration)->default_value(n.duration),
       "length of the measured window after the warmup: 1.5 (seconds), 10s, 500ms, "
       "2m, 1h (0: no limit, needs --requests)")
      ("warmup", po::value(&n.warmup)->default_value(n.warmup),
       "load before measuring (same units as --duration); excluded from every figure but errors")
      ("requests,n", po::value(&n.requests)->default_value(0),
       "stop after N measured requests in total (0: no limit); for deterministic runs")
      ("size,s", po::value(&size)->default_value("64"),
       "payload bytes per request: N, or A-B for uniform sizes in [A, B] "
       "(deterministic, see --seed); framed adds its 4-byte header")
      ("pipeline,p", po::value(&o.pipeline),
       "closed loop: requests outstanding per connection (default 1). Open loop: "
       "cap on outstanding requests per connection; due requests beyond it wait "
       "and are counted as deferred (default 1024)")
      ("rate,r", po::value(&o.rate)->default_value(o.rate),
       "open loop: total requests/s over all connections, sent at fixed intended "
       "times (µs resolution); latency counts from the intended time. 0: closed loop")
      ("requests-per-connection", po::value(&n.per_connection)->default_value(0),
       "churn: close after K replies and reconnect (connect time goes to connect_us); 0: never")
      ("close-mode", po::value(&close_mode)->default_value("fin"),
       "how the client closes under churn: fin (close; TIME_WAIT stays on the "
       "client) | rst (SO_LINGER 0: RST, no TIME_WAIT; servers see a reset)")
      ("source-addresses", po::value(&o.source_addresses)->default_value(0),
       "loopback target: spread source addresses over 127.0.0.2..127.0.0.(N+1) "
       "(bind + IP_BIND_ADDRESS_NO_PORT) so ports never run out; 0: 16 when churning "
       "or above 10000 connections, else none")
      ("idle-connections", po::value(&o.idle_connections)->default_value(0),
       "extra connections opened before the run and held open, never sending (C10K shape)")
      ("timeout", po::value(&n.timeout)->default_value(n.timeout),
       "time without a reply (or to connect) before a request counts as a timeout "
       "(same units as --duration); the connection is closed, every request still "
       "in flight on it is counted lost, and it is reopened")
      ("output,o", po::value(&o.output),
       "write the result JSON to FILE (atomically: FILE.tmp then rename); default stdout")
      ("hdr-log", po::value(&o.hdr_log),
       "also write HdrHistogram's interval log (format 1.3) to FILE: the latency histogram of each second, "
       "in ns, compressed, one tagged line per interval (HistogramLogProcessor, hdr-histogram-js)")
      ("hdr-tag", po::value(&o.hdr_tag),
       "the tag of those lines (letters, digits, ._-/:=); default PROTOCOL/cCONNECTIONS/sSIZE[/rRATE]")
      ("hgrm", po::value(&o.hgrm),
       "also write the percentile distribution as wrk2 --latency and HdrHistogram print it (.hgrm), "
       "values in microseconds")
      ("progress", po::value(&progress)->default_value("auto"),
       "auto (a line a second when stderr is a terminal) | on | off")
      ("seed", po::value(&n.seed)->default_value(1),
       "seed for --size ranges (same seed, same sizes)")
      ("notify-fd", po::value(&o.notify_fd),
       "write 'window_start NS' and 'window_end NS' lines (CLOCK_MONOTONIC ns) to "
       "this open file descriptor when the measured window starts (after connects, "
       "idle connections and warmup) and ends, each flushed at once")
      ("start-barrier", po::bool_switch(&o.start_barrier),
       "once every connection is open, write 'ready NS' to --notify-fd and wait for "
       "a line on stdin before the run's clock starts (several loadgens released "
       "together by the harness; EOF on stdin aborts the run)");
  return d;
}

}  // namespace

double parse_seconds(const std::string& option, const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    bad(option, "'" + text + "' is not a time (1.5, 10s, 500ms, 250us, 2m, 1h)");
  }
  std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "ms") scale = 1e-3;
  else if (unit == "us") scale = 1e-6;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else bad(option, "'" + text + "' has an unknown unit '" + unit + "' (use s, ms, us, m or h)");
  if (!std::isfinite(v)) bad(option, "'" + text + "' is not a finite time");
  return v * scale;
}

void parse_size(const std::string& text, size_t& min, size_t& max) {
  constexpr size_t kMaxSize = 64ull << 20;
  auto number = [&](const std::string& s) -> size_t {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos)
      bad("size", "'" + text + "' is not N or A-B (bytes)");
    if (s.size() > 9) bad("size", "must be <= 64 MiB");
    return std::stoull(s);
  };
  auto dash = text.find('-');
  if (dash == std::string::npos) {
    min = max = number(text);
  } else {
    min = number(text.substr(0, dash));
    max = number(text.substr(dash + 1));
  }
  if (min < 1) bad("size", "must be >= 1 byte");
  if (max > kMaxSize) bad("size", "must be <= 64 MiB");
  if (min > max) bad("size", "range A-B needs A <= B");
}

ParsedCommand parse_options(const std::vector<std::string>& args) {
  ParsedCommand cmd;
  Options& o = cmd.options;
  std::string protocol, size, progress, close_mode;
  Counts n;
  auto desc = describe(o, n, protocol, size, progress, close_mode);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error_with_option_name& e) {
    // Boost names the option itself ("the argument ('x') for option '--rate' is invalid").
    throw UsageError(e.what());
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  if (vm.count("help")) {
    std::ostringstream s;
    s << desc << "\nOutput: JSON (schema iomodels.loadgen/1) on stdout or --output; a human\n"
                 "summary on stderr. Exit 0 on success (errors are counted, not fatal),\n"
                 "2 on a bad option or an impossible setup (e.g. file-descriptor limit).\n";
    cmd.exit_now = true;
    cmd.text = s.str();
    return cmd;
  }
  if (vm.count("version")) {
    cmd.exit_now = true;
    cmd.text = std::string("loadgen ") + iomodels::project_version() + " (" + iomodels::git_sha() + ")\n";
    return cmd;
  }

  if (n.requests < 0) bad("requests", "must be >= 0");
  if (n.per_connection < 0) bad("requests-per-connection", "must be >= 0");
  if (n.seed < 0) bad("seed", "must be >= 0");
  o.requests = static_cast<uint64_t>(n.requests);
  o.requests_per_connection = static_cast<uint64_t>(n.per_connection);
  o.seed = static_cast<uint64_t>(n.seed);
  try {
    o.addr = parse_endpoint(o.target);
  } catch (const std::exception& e) {
    bad("target", std::string("'") + o.target + "' is not HOST:PORT (" + e.what() + ")");
  }
  if (auto p = parse_protocol(protocol)) o.protocol = *p;
  else bad("protocol", "'" + protocol + "' is not echo, framed or http");
  if (o.connections < 1) bad("connections", "must be >= 1");
  if (o.connections > 1'000'000) bad("connections", "must be <= 1000000");
  if (o.threads < 1) bad("threads", "must be >= 1");
  if (o.threads > 256) bad("threads", "must be <= 256");
  if (o.threads > o.connections) o.threads = o.connections;  // an idle thread measures nothing
  o.duration_s = parse_seconds("duration", n.duration);
  o.warmup_s = parse_seconds("warmup", n.warmup);
  o.timeout_s = parse_seconds("timeout", n.timeout);
  check_seconds("duration", o.duration_s, true);
  check_seconds("warmup", o.warmup_s, true);
  check_seconds("timeout", o.timeout_s, false);
  if (o.duration_s == 0 && o.requests == 0)
    bad("duration", "0 (no time limit) needs --requests");
  parse_size(size, o.size_min, o.size_max);
  o.pipeline_set = vm.count("pipeline") > 0;
  if (o.pipeline_set) {
    if (o.pipeline < 1) bad("pipeline", "must be >= 1");
    if (o.pipeline > 65536) bad("pipeline", "must be <= 65536");
  }
  if (!std::isfinite(o.rate) || o.rate < 0) bad("rate", "must be >= 0 requests/s");
  if (o.rate > 100e6) bad("rate", "must be <= 100000000 requests/s");
  if (!o.pipeline_set) o.pipeline = o.open_loop() ? kOpenLoopDefaultCap : 1;
  if (o.idle_connections < 0) bad("idle-connections", "must be >= 0");
  if (o.idle_connections > 1'000'000) bad("idle-connections", "must be <= 1000000");
  if (o.source_addresses < 0 || o.source_addresses > 65000)
    bad("source-addresses", "must be in 0..65000");
  // IPv6 has one loopback address, ::1: there is no ::/8 to spread over.
  if (o.source_addresses > 0 && o.addr.family() != AF_INET)
    bad("source-addresses", "needs an IPv4 loopback target (IPv6 loopback is the one address ::1)");
  if (o.start_barrier && !vm.count("notify-fd")) bad("start-barrier", "needs --notify-fd to say 'ready'");
  if (vm.count("notify-fd")) {
    if (o.notify_fd < 0) bad("notify-fd", "must be >= 0");
    int fl = ::fcntl(o.notify_fd, F_GETFL);
    if (fl < 0) bad("notify-fd", std::to_string(o.notify_fd) + " is not an open file descriptor");
    if ((fl & O_ACCMODE) == O_RDONLY)
      bad("notify-fd", std::to_string(o.notify_fd) + " is not open for writing");
  }
  if (vm.count("hdr-tag") && !valid_hdr_tag(o.hdr_tag))
    bad("hdr-tag", "'" + o.hdr_tag + "' must be letters, digits and ._-/:= only (no comma, no space)");
  if (vm.count("hdr-tag") && o.hdr_log.empty()) bad("hdr-tag", "needs --hdr-log");
  if (progress == "auto") o.progress = ProgressMode::kAuto;
  else if (progress == "on") o.progress = ProgressMode::kOn;
  else if (progress == "off") o.progress = ProgressMode::kOff;
  else bad("progress", "'" + progress + "' is not auto, on or off");
  if (close_mode == "fin") o.close_mode = CloseMode::kFin;
  else if (close_mode == "rst") o.close_mode = CloseMode::kRst;
  else bad("close-mode", "'" + close_mode + "' is not fin or rst");
  return cmd;
}

}  // namespace iomodels::loadgen
