// loadgen command line: what to load, how hard, for how long, where to write.
// Parsing is separate from running so unit tests can check every rule, and a
// bad value becomes a UsageError (exit 2) whose message names the option.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/protocol.h"
#include "core/socket_util.h"

namespace iomodels::loadgen {

enum class ProgressMode { kAuto, kOn, kOff };
// fin: close(2), the client side keeps TIME_WAIT (what a real client does).
// rst: SO_LINGER {1, 0} before close: RST, no TIME_WAIT anywhere; the server
//      sees ECONNRESET, which some servers count as an error.
enum class CloseMode { kFin, kRst };

struct Options {
  std::string target = "127.0.0.1:7000";
  Endpoint addr;                // IPv4 or IPv6, from --target
  Protocol protocol = Protocol::kEcho;
  int connections = 10;
  int threads = 1;
  double duration_s = 10;       // 0: no time limit (only with --requests)
  double warmup_s = 0;
  uint64_t requests = 0;        // 0: no request limit
  size_t size_min = 64;         // payload bytes per request, uniform in [min, max]
  size_t size_max = 64;
  int pipeline = 1;             // closed loop: outstanding; open loop: cap (see below)
  bool pipeline_set = false;
  double rate = 0;              // total req/s; 0 = closed loop
  uint64_t requests_per_connection = 0;
  int idle_connections = 0;
  double timeout_s = 5;
  std::string output;           // empty: JSON to stdout
  std::string hdr_log;          // HdrHistogram interval log (loadgen/hdr_log.h); empty: none
  std::string hdr_tag;          // its tag; empty: default_hdr_tag()
  std::string hgrm;             // percentile distribution (.hgrm); empty: none
  ProgressMode progress = ProgressMode::kAuto;
  CloseMode close_mode = CloseMode::kFin;
  int source_addresses = 0;     // 0: automatic (loopback target + churn or many connections)
  uint64_t seed = 1;
  int notify_fd = -1;           // -1: none; else window_start/window_end lines go here
  bool start_barrier = false;   // after connecting: 'ready NS' on notify_fd, then wait for a stdin line

  bool open_loop() const noexcept { return rate > 0; }
};

// In open loop a connection sends every request that falls due even while
// replies are outstanding, so that a slow server cannot slow the schedule
// down (the point of open loop). Without --pipeline the cap is this; with it,
// --pipeline is the cap and requests beyond it wait (counted as deferred).
constexpr int kOpenLoopDefaultCap = 1024;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Result of parsing: either options to run with, or text to print and exit 0.
struct ParsedCommand {
  Options options;
  bool exit_now = false;    // --help / --version handled
  std::string text;         // what to print on stdout when exit_now
};

// Throws UsageError("--connections: must be >= 1") for a bad value.
ParsedCommand parse_options(const std::vector<std::string>& args);

// "64" or "16-1024" → [min, max]; throws UsageError naming --size.
void parse_size(const std::string& text, size_t& min, size_t& max);

// A time the way wrk takes it: "1.5" (seconds), "10s", "500ms", "250us", "2m",
// "1h". Returns seconds; throws UsageError("--OPTION: ...") for anything else,
// negative values included.
double parse_seconds(const std::string& option, const std::string& text);

}  // namespace iomodels::loadgen
