// server_main: everything about a server that is not its I/O model.
//
// It parses the common command line (docs/design.md, "Command lines"), creates the listener, blocks
// SIGTERM/SIGINT and watches them from a thread of its own, prints
// "listening ADDR:PORT", runs the model's serve(), and writes the stats JSON.
// SIGUSR1 makes the same thread print one line `stats <compact JSON>` on
// stdout: the stats so far, all threads summed (the harness takes one at each
// end of the loadgen's measured window).
// A model file is then just `int serve(ServerContext&)` plus a ModelSpec.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.h"
#include "core/protocol.h"
#include "servers/common/buffer_budget.h"
#include "servers/common/server_stats.h"

namespace iomodels {

struct ServerOptions {
  std::string bind = "127.0.0.1";
  uint16_t port = 0;
  Protocol protocol = Protocol::kEcho;
  int threads = 0;                  // models with threads: 0 = CPUs in our affinity mask
  size_t max_connections = 10000;   // more are accepted and closed at once, counted rejected
  ProtocolLimits limits;            // --max-frame
  size_t out_buffer_cap = 256 * 1024;  // back-pressure: stop reading while out-buffer is over this
  size_t max_buffered_bytes = BufferBudget::kDefaultLimit;  // all connections: see buffer_budget.h
  std::string stats_file;           // empty: stats JSON to stdout at exit
  std::map<std::string, int64_t> extra;  // model-specific options (ModelSpec::extra_options)

  int64_t extra_int(const std::string& name) const { return extra.at(name); }
};

// One model-specific integer option, e.g. {"idle-sleep-us", 0, "sleep when a pass found nothing"}.
struct ExtraOption {
  std::string name;
  int64_t default_value;
  std::string help;
  int64_t min_value = 0;
  int64_t max_value = INT64_MAX;
  // Non-empty: the option takes one of these words (--setup defer); ServerOptions::extra
  // holds its index, default_value is the default's index, the stats show the word.
  std::vector<std::string> choices = {};
};

class ServerContext {
 public:
  const ServerOptions& opt;
  Fd listener;  // bound and listening, blocking; the model sets O_NONBLOCK if it wants
  // Readable (eventfd) once a stop was requested: readiness models watch it.
  int stop_fd = -1;
  ServerStats& stats;  // the main thread's; other threads merge_stats() theirs at exit

  ServerContext(const ServerOptions& o, Fd l, int sfd, ServerStats& s)
      : opt(o), listener(std::move(l)), stop_fd(sfd), stats(s) {}

  bool stop_requested() const noexcept { return stop_.load(std::memory_order_acquire); }
  // Run by the signal thread when SIGTERM/SIGINT arrives, after stop_requested()
  // turned true and stop_fd became readable: a model whose threads block in
  // accept/recv registers a hook that wakes them (shutdown(2) the fds).
  void on_stop(std::function<void()> hook);
  // A worker thread's own stats, made visible to SIGUSR1 snapshots while it
  // runs. Attach before the thread starts; merge_stats detaches. Only stats
  // that outlive their attachment (or are detached first) may be attached.
  void attach_stats(const ServerStats& local);
  void detach_stats(const ServerStats& local);
  // Thread-safe: adds a finished worker's stats to the totals (kept apart
  // from `stats`, which its owner thread may be writing), and detaches them.
  void merge_stats(const ServerStats& local);
  // Everything counted so far: `stats`, merged workers, and (until a stop was
  // requested: afterwards a worker may be abandoned, its stats freed) the
  // attached live ones. `partial` says whether live ones were left out.
  ServerStats totals(bool* partial = nullptr);
  // A fresh session for one connection, with the configured protocol and limits.
  std::unique_ptr<ServerSession> new_session() const {
    return make_server_session(opt.protocol, opt.limits);
  }
  // One line to stderr, prefixed with the model name; for rare events only.
  void log(const std::string& line) const;

  // Internal: used by server_main.
  void request_stop();
  std::string model_name;

 private:
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> hooks_;
  ServerStats merged_;                       // written under mu_ only
  std::vector<const ServerStats*> attached_;  // under mu_
};

struct ModelSpec {
  std::string_view name;             // executable name, e.g. "epoll_lt"
  std::string_view summary;          // one line for --help (a listed server: listed_server_main sets both)
  int (*serve)(ServerContext&);      // owns the whole syscall loop; returns 0 on a clean stop
  std::vector<ExtraOption> extra_options = {};
  bool uses_threads = false;         // shows --threads in --help as meaningful
  // The model installs its own SIGTERM/SIGINT handling (libevent's evsignal):
  // server_main then starts no watcher thread. It still blocks the signals
  // before printing "listening" (a stop sent at once stays pending rather than
  // killing the process); the model calls unblock_stop_signals() once its own
  // handlers are installed, and a pending stop is delivered to them then.
  bool owns_signals = false;
  // Signals the model takes with sigwaitinfo (sigio's RT signal, posix_aio's
  // completion signal): blocked before any thread starts, so that a
  // process-directed one is never delivered to (and kills) another thread.
  std::vector<int> blocked_signals = {};
  // Create ctx.listener with SO_REUSEPORT, so that the model can bind more
  // listeners to the same port (epoll_reuseport: one per thread).
  bool reuseport_listener = false;
};

int server_main(int argc, char** argv, const ModelSpec& spec);

// A listed server is compiled with its name and its one-line description
// from the server list (servers/CMakeLists.txt, SUMMARY), so that --help says
// what the list says and the description is written in one place.
#if defined(IOMODELS_LISTED_NAME) && defined(IOMODELS_LISTED_SUMMARY)
inline constexpr std::string_view kListedName = IOMODELS_LISTED_NAME;
inline constexpr std::string_view kListedSummary = IOMODELS_LISTED_SUMMARY;

// main() of a listed server: server_main with the list's name and description.
inline int listed_server_main(int argc, char** argv, ModelSpec spec) {
  spec.name = kListedName;
  spec.summary = kListedSummary;
  return server_main(argc, argv, spec);
}
#endif

// For owns_signals models: unblock SIGTERM/SIGINT in the calling thread.
void unblock_stop_signals();

}  // namespace iomodels
