// Test helpers: spawn a server executable, talk to it with deadlines, stop it.
//
// Everything here is bounded in time: sockets carry SO_RCVTIMEO/SO_SNDTIMEO as
// a safety net, every wait takes a deadline, and a ServerProcess that goes out
// of scope kills its child, so a failing test never leaves a server behind or
// hangs CI. Traffic goes to 127.0.0.1 only.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <iosfwd>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.h"

namespace iomodels::test {

using std::chrono::milliseconds;

// ---- the servers under test ------------------------------------------------

struct ServerEntry {
  std::string name;  // executable name, e.g. "epoll_lt"
  std::string path;  // absolute path from $<TARGET_FILE:...>
};
// Every server CMake built (IOMODELS_SERVER_LIST in test_paths.inc).
const std::vector<ServerEntry>& all_servers();
// Path of the named server; empty when it was not built.
std::string server_path(std::string_view name);
// gtest prints a ServerEntry parameter as its name.
void PrintTo(const ServerEntry& e, std::ostream* os);

// ---- a server process -------------------------------------------------------

struct ExitStatus {
  bool exited = false;     // ran to exit(); exit_code is valid
  int exit_code = -1;
  int signal = 0;          // killed by this signal (0: not signalled)
  bool timed_out = false;  // still running at the deadline (then killed with SIGKILL)
  milliseconds elapsed{0}; // from the stop signal (or the wait call) to the exit
  std::string describe() const;
};

struct StartOptions {
  bool stats_file = true;             // add --stats-file in a private temp dir
  milliseconds listen_deadline{5000}; // for the "listening ADDR:PORT" line
  std::vector<std::string> env;       // NAME=VALUE added to (or replacing in) the child's environment
};

class ServerProcess {
 public:
  // fork/exec `path` with `args`, read its "listening ADDR:PORT" line.
  // Throws std::runtime_error (with what the server printed) on failure.
  static ServerProcess start(const std::string& path, const std::vector<std::string>& args,
                             const StartOptions& opt = {});
  ServerProcess(ServerProcess&& other) noexcept;
  ServerProcess& operator=(ServerProcess&& other) noexcept;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess();  // SIGKILL + reap if still running; removes the temp dir

  pid_t pid() const noexcept { return pid_; }
  uint16_t port() const noexcept { return port_; }
  const std::string& address() const noexcept { return address_; }  // "127.0.0.1:40123"
  bool running();

  // Send `sig` and wait up to `deadline` for the exit (SIGKILL after it).
  ExitStatus stop(int sig = SIGTERM, milliseconds deadline = milliseconds(3000));
  // Wait for an exit without signalling.
  ExitStatus wait(milliseconds deadline);

  const std::string& stats_path() const noexcept { return stats_path_; }
  // The stats JSON: from --stats-file, or else from what the server printed on
  // stdout after "listening". Call after stop(). Throws on a missing or bad file.
  nlohmann::json read_stats();
  // SIGUSR1, then the JSON of the `stats {...}` line the server prints on
  // stdout in answer; throws std::runtime_error when none comes by the deadline.
  nlohmann::json snapshot(milliseconds deadline = milliseconds(5000));
  // Peak resident set (VmHWM) from /proc/PID/status in KiB; -1 if unreadable.
  long peak_rss_kb() const;

 private:
  ServerProcess() = default;
  void kill_and_reap() noexcept;

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string address_;
  Fd stdout_;            // the read end of the child's stdout
  std::string stdout_rest_;  // bytes after the listening line
  std::string temp_dir_;
  std::string stats_path_;
};

// ---- client sockets -----------------------------------------------------------

struct ConnectOptions {
  milliseconds io_timeout{5000};  // SO_RCVTIMEO/SO_SNDTIMEO: nothing blocks longer
  int rcvbuf = 0;                 // SO_RCVBUF before connect (0: kernel default)
  int sndbuf = 0;                 // SO_SNDBUF before connect
  bool nodelay = true;            // so a byte-by-byte test really sends single bytes
  std::string host = "127.0.0.1"; // or "[::1]" (any host parse_endpoint takes)
};
// Blocking TCP connection to host:port; throws std::runtime_error on failure.
Fd connect_to(uint16_t port, const ConnectOptions& opt = {});

// Send everything (short writes looped, EINTR retried, MSG_NOSIGNAL). false on error.
bool send_all(int fd, std::string_view data);
// Read exactly n bytes unless EOF, an error or the deadline comes first; returns
// what arrived (shorter than n means one of those happened).
std::string recv_exact(int fd, size_t n, milliseconds deadline = milliseconds(5000));
// Read until `terminator` has arrived (returns everything read, terminator
// included), or EOF / error / deadline (returns what arrived).
std::string recv_until(int fd, std::string_view terminator, milliseconds deadline = milliseconds(5000));
// True when this kernel has no IPv6 loopback to bind (booted with ipv6.disable=1,
// or built without IPv6): the one reason an IPv6 test may skip.
bool ipv6_loopback_missing();
// True when bytes are readable within `wait` (data, not EOF).
bool data_within(int fd, milliseconds wait);

// Write `data` and read `expect` bytes at the same time (poll, non-blocking
// calls), so payloads larger than the socket buffers cannot deadlock. With
// shut_wr, shutdown(SHUT_WR) once everything is written. Returns what was read.
struct ExchangeResult {
  std::string received;
  size_t sent = 0;
  bool send_failed = false;
  bool eof = false;  // the peer closed before `expect` bytes arrived
  bool timed_out = false;
};
ExchangeResult exchange(int fd, std::string_view data, size_t expect,
                        milliseconds deadline = milliseconds(10000), bool shut_wr = false);

// Send as much of `data` as the peer takes without us reading: stops when
// `stall` passes without progress, or at `deadline`. Returns bytes sent.
size_t send_until_stalled(int fd, std::string_view data, milliseconds stall, milliseconds deadline);

// How a connection ended, seen from our side.
enum class PeerEnd { kClosed, kReset, kOpen };
const char* peer_end_name(PeerEnd e);
// Wait up to `deadline` for the server to close: reads (and discards into
// `drained`, when given) any data still coming, returns kClosed on EOF, kReset
// on ECONNRESET, kOpen if the connection is still open at the deadline.
PeerEnd wait_peer_end(int fd, milliseconds deadline = milliseconds(3000), std::string* drained = nullptr);

// shutdown + close with SO_LINGER {1, 0}: the peer gets a RST, not a FIN.
void reset_connection(Fd& fd);

// ---- data ---------------------------------------------------------------------

// n bytes of a reproducible pattern (distinct per seed), for integrity checks.
std::string pattern(size_t n, uint64_t seed = 1);
// One framed-protocol frame: 4-byte big-endian length + body.
std::string frame(std::string_view body);
std::string frame_header(uint32_t length);
// Offset of the first difference, or npos; for messages that don't dump 1 MiB.
size_t first_mismatch(std::string_view a, std::string_view b);

// Raise RLIMIT_NOFILE to the hard limit in this (test) process; returns the new soft limit.
uint64_t raise_fd_limit();


// Points this process's stderr (inherited by a server started meanwhile) at a
// temporary file, so a test can read what the server logged.
class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  void restore();            // stderr back to where it was (idempotent)
  std::string text() const;  // everything captured so far

 private:
  std::string path_;
  int saved_ = -1;
};

// ---- the server process seen from /proc (test_support_proc.cpp) ---------------

// Open fds of a process (entries of /proc/PID/fd); -1 if unreadable.
int open_fd_count(pid_t pid);

// util-linux's prlimit: a launcher that sets a limit (--nofile=N, --nproc=N,
// --sigpending=N) and execs the server, whose pid stays the same.
inline constexpr const char* kPrlimitPath = "/usr/bin/prlimit";
// Why a test that needs it must skip ("" when it is there).
std::string prlimit_missing();
// CPU time (user + system) the process used so far, in seconds; -1 if unreadable.
double process_cpu_s(pid_t pid);

// Runs a shell command line to its end and returns what it printed on stdout
// (fold stderr in with 2>&1) and its exit status (-1 if it did not exit).
// For commands that end by themselves, e.g. a server refusing its options.
struct CommandOutput {
  int exit_code = -1;
  std::string output;
};
CommandOutput run_command(const std::string& command_line);

// Sanitizer builds: the asan and tsan presets compile the tests with the same
// flags as the servers, so a test knows what it runs against.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsanBuild = true;
#else
inline constexpr bool kAsanBuild = false;
#endif
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsanBuild = true;
#else
inline constexpr bool kTsanBuild = false;
#endif

// For StartOptions::env: under ASan, our ASAN_OPTIONS plus `extra` (later
// options win), e.g. "detect_leaks=0"; in other builds nothing.
inline std::vector<std::string> asan_options_env(const std::string& extra) {
  if (!kAsanBuild) return {};
  const char* ours = std::getenv("ASAN_OPTIONS");
  return {"ASAN_OPTIONS=" + (ours && *ours ? std::string(ours) + ":" : std::string()) + extra};
}

}  // namespace iomodels::test
