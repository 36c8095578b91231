// server_main: options, listener, signals and the stats JSON, shared by every
// model. Nothing here waits for readiness or completion: that is the model's.
#include "servers/common/server_main.h"
#include "core/version.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <system_error>
#include <thread>

#include "core/atomic_file.h"
#include "core/socket_util.h"

namespace po = boost::program_options;

namespace iomodels {

void ServerContext::on_stop(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  if (stop_requested()) {
    hook();  // the stop already happened: run it now rather than never
    return;
  }
  hooks_.push_back(std::move(hook));
}

void ServerContext::attach_stats(const ServerStats& local) {
  std::lock_guard lock(mu_);
  attached_.push_back(&local);
}

void ServerContext::detach_stats(const ServerStats& local) {
  std::lock_guard lock(mu_);
  std::erase(attached_, &local);
}

void ServerContext::merge_stats(const ServerStats& local) {
  std::lock_guard lock(mu_);
  merged_.merge(local);
  std::erase(attached_, &local);
}

ServerStats ServerContext::totals(bool* partial) {
  ServerStats sum;
  sum.merge(stats);
  std::lock_guard lock(mu_);
  sum.merge(merged_);
  const bool live = !stop_requested();
  if (live)
    for (const ServerStats* s : attached_) sum.merge(*s);
  if (partial) *partial = !live && !attached_.empty();
  return sum;
}

void ServerContext::log(const std::string& line) const {
  std::string msg = model_name + ": " + line + "\n";
  ::write(STDERR_FILENO, msg.data(), msg.size());  // one write: lines never interleave
}

void ServerContext::request_stop() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    if (stop_.exchange(true, std::memory_order_acq_rel)) return;
    hooks.swap(hooks_);
  }
  uint64_t one = 1;
  if (stop_fd >= 0) (void)!::write(stop_fd, &one, sizeof one);
  for (auto& h : hooks) h();
}

namespace {

struct UsageError {
  std::string message;
};

int cpus_in_affinity_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return CPU_COUNT(&set);
}

template <typename T>
T ranged(const po::variables_map& vm, const std::string& name, long long lo, long long hi) {
  long long v = vm[name].as<long long>();
  if (v < lo || v > hi)
    throw UsageError{"--" + name + ": must be in " + std::to_string(lo) + ".." + std::to_string(hi) +
                     ", got " + std::to_string(v)};
  return static_cast<T>(v);
}

ServerOptions parse_options(int argc, char** argv, const ModelSpec& spec, bool& exit_now) {
  ServerOptions opt;
  po::options_description desc(std::string(spec.name) + " — " + std::string(spec.summary) +
                               "; an echo, framed or http server\n\nUsage: " + std::string(spec.name) +
                               " [options]\n\nOptions");
  desc.add_options()
      ("help,h", "show this help and exit")
      ("version", "print the version and exit")
      ("bind", po::value<std::string>()->default_value("127.0.0.1"),
       "address to listen on: IPv4 (127.0.0.1), IPv6 (::1), or :: for both families (dual-stack); "
       "loopback unless told otherwise")
      ("port", po::value<long long>()->default_value(0), "port to listen on; 0 = the kernel picks")
      ("protocol", po::value<std::string>()->default_value("echo"), "echo | framed | http")
      ("threads", po::value<long long>()->default_value(0),
       spec.uses_threads ? "worker threads; 0 = the CPUs in this process's affinity mask"
                         : "worker threads (this model is single-threaded: ignored)")
      ("max-connections", po::value<long long>()->default_value(10000),
       "connections served at once; more are accepted and closed at once (counted as rejected)")
      ("max-frame", po::value<long long>()->default_value(1 << 20),
       "framed: the largest frame length accepted; larger closes the connection")
      ("out-buffer-cap", po::value<long long>()->default_value(256 * 1024),
       "back-pressure: stop reading a connection while this many reply bytes are unsent")
      ("max-buffered-bytes", po::value<long long>()->default_value(BufferBudget::kDefaultLimit),
       "all connections together: past this many bytes buffered, a connection that grows beyond "
       "16 KiB (a large frame) is refused and closed, counted as extra.buffer_budget_refusals")
      ("stats-file", po::value<std::string>()->default_value(""),
       "write the stats JSON here at exit (default: stdout)");
  for (const auto& e : spec.extra_options) {
    if (e.choices.empty())
      desc.add_options()(e.name.c_str(), po::value<long long>()->default_value(e.default_value), e.help.c_str());
    else
      desc.add_options()(e.name.c_str(), po::value<std::string>()->default_value(e.choices.at(e.default_value)),
                         e.help.c_str());
  }

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError{e.what()};
  }
  if (vm.count("help")) {
    std::cout << desc << "\nOn start it prints 'listening ADDR:PORT'; SIGTERM or SIGINT stops it and"
                         " writes the stats JSON;\nSIGUSR1 prints one line 'stats <JSON>' on stdout: the counters so far, all threads summed.\n";
    exit_now = true;
    return opt;
  }
  if (vm.count("version")) {
    std::cout << spec.name << " " << iomodels::project_version() << " (" << iomodels::git_sha() << ")\n";
    exit_now = true;
    return opt;
  }
  opt.bind = vm["bind"].as<std::string>();
  try {
    (void)resolve_endpoint(opt.bind, 0);
  } catch (const std::invalid_argument& e) {
    throw UsageError{"--bind: '" + opt.bind + "' is not an address to listen on (" + e.what() + ")"};
  }
  opt.port = ranged<uint16_t>(vm, "port", 0, 65535);
  auto proto = parse_protocol(vm["protocol"].as<std::string>());
  if (!proto) throw UsageError{"--protocol: must be echo, framed or http, got '" +
                               vm["protocol"].as<std::string>() + "'"};
  opt.protocol = *proto;
  opt.threads = ranged<int>(vm, "threads", 0, 1024);
  if (opt.threads == 0) opt.threads = cpus_in_affinity_mask();
  opt.max_connections = ranged<size_t>(vm, "max-connections", 1, 10'000'000);
  opt.limits.max_frame = ranged<size_t>(vm, "max-frame", 0, 1LL << 31);
  opt.out_buffer_cap = ranged<size_t>(vm, "out-buffer-cap", 1, 1LL << 32);
  opt.max_buffered_bytes = ranged<size_t>(vm, "max-buffered-bytes", 1, 1LL << 44);
  opt.stats_file = vm["stats-file"].as<std::string>();
  for (const auto& e : spec.extra_options) {
    if (e.choices.empty()) {
      opt.extra[e.name] = ranged<int64_t>(vm, e.name, e.min_value, e.max_value);
      continue;
    }
    const std::string word = vm[e.name].as<std::string>();
    auto it = std::find(e.choices.begin(), e.choices.end(), word);
    if (it == e.choices.end()) {
      std::string all;
      for (const auto& c : e.choices) all += (all.empty() ? "" : "|") + c;
      throw UsageError{"--" + e.name + ": must be " + all + ", got '" + word + "'"};
    }
    opt.extra[e.name] = it - e.choices.begin();
  }
  return opt;
}

nlohmann::json stats_json(const ModelSpec& spec, const ServerOptions& opt, const ServerStats& st) {
  nlohmann::json j;
  j["schema"] = "iomodels.server_stats/1";
  j["model"] = std::string(spec.name);
  auto& o = j["options"];
  o["bind"] = opt.bind;
  o["port"] = opt.port;
  o["protocol"] = protocol_name(opt.protocol);
  o["threads"] = opt.threads;
  o["max_connections"] = opt.max_connections;
  o["max_frame"] = opt.limits.max_frame;
  o["out_buffer_cap"] = opt.out_buffer_cap;
  o["max_buffered_bytes"] = opt.max_buffered_bytes;
  for (const auto& [k, v] : opt.extra) o[k] = v;
  for (const auto& e : spec.extra_options)  // a word option shows as its word
    if (!e.choices.empty()) o[e.name] = e.choices.at(size_t(opt.extra.at(e.name)));
  st.to_json(j["counters"]);
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  j["rusage"] = {{"user_s", secs(ru.ru_utime)},
                 {"sys_s", secs(ru.ru_stime)},
                 {"max_rss_kb", ru.ru_maxrss},
                 {"voluntary_ctxt_switches", ru.ru_nvcsw},
                 {"involuntary_ctxt_switches", ru.ru_nivcsw}};
  return j;
}

// One line, one write(2): `stats {...}`. The harness reads it from our stdout
// pipe; nothing else writes stdout while serve() runs.
void print_snapshot(const ModelSpec& spec, ServerContext& ctx) {
  bool partial = false;
  ServerStats sum = ctx.totals(&partial);
  nlohmann::json j = stats_json(spec, ctx.opt, sum);
  if (partial) j["partial"] = true;  // asked during a stop: live workers left out
  std::string line = "stats " + j.dump() + "\n";
  for (size_t off = 0; off < line.size();) {
    ssize_t n = ::write(STDOUT_FILENO, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nobody reads: the snapshot is lost, the server goes on
    off += static_cast<size_t>(n);
  }
}

// Atomically (core/atomic_file.h), so a reader never sees half a file.
void write_stats(const std::string& path, const nlohmann::json& j) {
  std::string text = j.dump(2) + "\n";
  if (path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  write_file_atomic(path, text);
}

}  // namespace

void unblock_stop_signals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::pthread_sigmask(SIG_UNBLOCK, &stop_signals, nullptr);
}

int server_main(int argc, char** argv, const ModelSpec& spec) {
  keep_standard_fds_open();
  std::string name(spec.name);
  ServerOptions opt;
  try {
    bool exit_now = false;
    opt = parse_options(argc, argv, spec, exit_now);
    if (exit_now) return 0;
  } catch (const UsageError& e) {
    std::cerr << name << ": " << e.message << "\n(see " << name << " --help)\n";
    return 2;
  }

  BufferBudget::process().set_limit(opt.max_buffered_bytes);
  // A peer that vanishes must cost its connection, never the process.
  ::signal(SIGPIPE, SIG_IGN);

  // Block the stop signals before any thread exists, so every thread inherits
  // the mask and only the watcher below ever receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  // owns_signals models unblock them (unblock_stop_signals) once their own
  // handlers are in place, so a stop sent right after "listening" is not lost.
  ::pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // SIGUSR1 (a stats snapshot) is only ever taken by the watcher thread.
  sigset_t snapshot_signal;
  sigemptyset(&snapshot_signal);
  sigaddset(&snapshot_signal, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &snapshot_signal, nullptr);
  if (!spec.blocked_signals.empty()) {
    sigset_t model_signals;
    sigemptyset(&model_signals);
    for (int s : spec.blocked_signals) sigaddset(&model_signals, s);
    ::pthread_sigmask(SIG_BLOCK, &model_signals, nullptr);
  }

  ServerStats stats;
  Fd stop_event;
  std::unique_ptr<ServerContext> ctx;
  try {
    raise_nofile_limit();
    ListenerOptions lo;
    lo.bind = opt.bind;
    lo.port = opt.port;
    lo.reuseport = spec.reuseport_listener;
    Fd listener = make_listener(lo);
    stop_event = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!stop_event) throw std::system_error(errno, std::generic_category(), "eventfd");
    ctx = std::make_unique<ServerContext>(opt, std::move(listener), stop_event.get(), stats);
    ctx->model_name = name;
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }

  // The watcher takes SIGUSR1 always, and SIGTERM/SIGINT unless the model
  // handles those itself. It stays until serve() returns, so that a snapshot
  // asked for during a stop is still answered.
  sigset_t watched = snapshot_signal;
  if (!spec.owns_signals) {
    sigaddset(&watched, SIGTERM);
    sigaddset(&watched, SIGINT);
  }
  std::atomic<bool> serve_done{false};
  std::thread watcher([&] {
    int sig = 0;
    while (::sigwait(&watched, &sig) == 0) {
      if (serve_done.load()) return;  // our own wake-up after serve() returned
      if (sig == SIGUSR1) print_snapshot(spec, *ctx);
      else ctx->request_stop();
    }
  });

  std::printf("listening %s\n", local_address(ctx->listener.get()).c_str());
  std::fflush(stdout);

  int rc = 0;
  try {
    rc = spec.serve(*ctx);
  } catch (const std::exception& e) {
    ctx->log(std::string("fatal: ") + e.what());
    rc = 1;
  }
  serve_done.store(true);
  ::pthread_kill(watcher.native_handle(), SIGUSR1);  // blocked here, so sigwait takes it
  watcher.join();

  try {
    write_stats(opt.stats_file, stats_json(spec, opt, ctx->totals()));
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 1;
  }
  return rc;
}

}  // namespace iomodels
