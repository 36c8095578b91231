#include "harness/run/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include "core/clock.h"

namespace iomodels::harness {
namespace {

// Process groups of live children, read by the signal handler: plain atomics
// in a fixed array because a handler may neither lock nor allocate.
constexpr int kMaxChildren = 32;
std::atomic<pid_t> g_groups[kMaxChildren];

void register_group(pid_t pgid) {
  for (auto& slot : g_groups) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) return;
  }
}

void unregister_group(pid_t pgid) {
  for (auto& slot : g_groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

std::atomic<void (*)() noexcept> g_fatal_hook{nullptr};
std::atomic<int> g_interrupt{0};            // the first SIGINT/SIGTERM/SIGHUP
std::atomic<bool> g_deferred{false};        // defer_interrupts() was called
std::atomic<bool> g_refuse_children{false};
std::atomic<bool> g_cleaning_up{false};     // begin_interrupt_cleanup() was called

void kill_live_groups() {
  for (auto& slot : g_groups) {
    pid_t g = slot.load();
    if (g > 0) ::kill(-g, SIGKILL);
  }
}

// Async-signal-safe: the hook (namespaces), then the signal's default action.
[[noreturn]] void die_of(int sig) {
  if (auto hook = g_fatal_hook.load()) hook();
  ::signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
  ::_exit(128 + sig);
}

void on_fatal_signal(int sig) {
  kill_live_groups();
  int none = 0;
  if (g_deferred.load() && g_interrupt.compare_exchange_strong(none, sig)) {
    g_refuse_children.store(true);
    ::alarm(kInterruptGraceS);  // the loop that should notice is stuck: on_grace_expired
    return;
  }
  die_of(g_interrupt.load() ? g_interrupt.load() : sig);
}

void on_grace_expired(int) {
  kill_live_groups();
  die_of(g_interrupt.load() ? g_interrupt.load() : SIGTERM);
}

[[noreturn]] void child_fail(int err_fd, int err) {
  // The parent reads this errno from the CLOEXEC pipe; a successful exec
  // closes the pipe instead, which is how the parent tells the two apart.
  (void)!::write(err_fd, &err, sizeof err);
  ::_exit(127);
}

}  // namespace

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> cpus;
  size_t pos = 0;
  auto bad = [&] { return std::invalid_argument("bad CPU list '" + text + "' (want e.g. 0 or 0-1 or 0,2)"); };
  if (text.empty()) throw bad();
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? text.size() : comma + 1;
    size_t dash = item.find('-');
    try {
      size_t used = 0;
      int lo = std::stoi(item.substr(0, dash), &used);
      if (used != (dash == std::string::npos ? item.size() : dash)) throw bad();
      int hi = lo;
      if (dash != std::string::npos) {
        std::string rest = item.substr(dash + 1);
        hi = std::stoi(rest, &used);
        if (used != rest.size()) throw bad();
      }
      if (lo < 0 || hi < lo || hi >= CPU_SETSIZE) throw bad();
      for (int c = lo; c <= hi; ++c) cpus.push_back(c);
    } catch (const std::logic_error&) {
      throw bad();
    }
  }
  return cpus;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0)
    throw std::system_error(errno, std::generic_category(), "sched_getaffinity");
  std::vector<int> out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.push_back(c);
  return out;
}

Child::Child(const SpawnOptions& opt) {
  if (opt.argv.empty()) throw std::invalid_argument("Child: empty argv");
  if (g_refuse_children.load()) throw Interrupted();
  int out_pipe[2] = {-1, -1};
  int in_pipe[2] = {-1, -1};
  if (opt.stdin_pipe && ::pipe2(in_pipe, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  int err_pipe[2];
  if (opt.capture_stdout && ::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  int stderr_fd = -1;
  if (!opt.stderr_path.empty()) {
    stderr_fd = ::open(opt.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (stderr_fd < 0) throw std::system_error(errno, std::generic_category(), "open " + opt.stderr_path);
  }
  // Everything the child needs is built before fork: after fork only
  // async-signal-safe calls are allowed.
  std::vector<char*> args;
  for (const auto& a : opt.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : opt.cpus) CPU_SET(c, &set);
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died between fork and prctl; then nothing would
    // ever deliver the death signal.
    if (::getppid() != parent) ::_exit(126);
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGHUP}) ::signal(s, SIG_DFL);
    if (!opt.cpus.empty() && ::sched_setaffinity(0, sizeof set, &set) != 0) child_fail(err_pipe[1], errno);
    if (opt.capture_stdout && ::dup2(out_pipe[1], STDOUT_FILENO) < 0) child_fail(err_pipe[1], errno);
    if (opt.stdout_to_null) {
      int null = ::open("/dev/null", O_WRONLY);
      if (null >= 0) ::dup2(null, STDOUT_FILENO);
    }
    if (stderr_fd >= 0 && ::dup2(stderr_fd, STDERR_FILENO) < 0) child_fail(err_pipe[1], errno);
    for (int fd : opt.inherit_fds)
      if (::fcntl(fd, F_SETFD, 0) != 0) child_fail(err_pipe[1], errno);
    int in = opt.stdin_pipe ? in_pipe[0] : ::open("/dev/null", O_RDONLY);
    if (in >= 0) ::dup2(in, STDIN_FILENO);
    ::execv(args[0], args.data());
    child_fail(err_pipe[1], errno);
  }
  // Set the group from both sides: whichever runs first wins the race, and
  // kill(-pid) must work from this line on.
  ::setpgid(pid, pid);
  pid_ = pid;
  register_group(pid);
  ::close(err_pipe[1]);
  if (stderr_fd >= 0) ::close(stderr_fd);
  if (opt.stdin_pipe) {
    ::close(in_pipe[0]);
    stdin_fd_ = in_pipe[1];
  }
  if (opt.capture_stdout) {
    ::close(out_pipe[1]);
    stdout_fd_ = out_pipe[0];
    ::fcntl(stdout_fd_, F_SETFL, O_NONBLOCK);
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_pipe[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(err_pipe[0]);
  if (n == sizeof child_errno) {
    kill_group();
    throw std::system_error(child_errno, std::generic_category(),
                            (opt.cpus.empty() ? "execv " : "sched_setaffinity/execv ") + opt.argv[0]);
  }
}

Child::~Child() {
  if (!reaped_) kill_group();
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
}

bool Child::write_stdin(const std::string& text, bool close) {
  size_t off = 0;
  while (stdin_fd_ >= 0 && off < text.size()) {
    ssize_t n = ::write(stdin_fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (close && stdin_fd_ >= 0) {
    ::close(stdin_fd_);
    stdin_fd_ = -1;
  }
  return off == text.size();
}

std::string Child::read_rest(int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000;
  while (stdout_fd_ >= 0) {
    uint64_t now = now_ns();
    if (now >= deadline) break;
    pollfd p{stdout_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000) + 1);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    char buf[65536];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n > 0) pending_.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) break;
  }
  std::string out;
  out.swap(pending_);
  return out;
}

std::string resolve_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  size_t pos = 0;
  while (pos <= dirs.size()) {
    size_t colon = dirs.find(':', pos);
    std::string dir = dirs.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
    std::string full = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
    if (colon == std::string::npos) break;
    pos = colon + 1;
  }
  return name;
}

void set_fatal_signal_hook(void (*hook)() noexcept) { g_fatal_hook.store(hook); }

std::optional<std::string> Child::read_line(int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000;
  for (;;) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (stdout_fd_ < 0) return std::nullopt;
    uint64_t now = now_ns();
    if (now >= deadline) return std::nullopt;
    pollfd p{stdout_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>((deadline - now) / 1'000'000) + 1);
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (r <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(stdout_fd_, buf, sizeof buf);
    if (n > 0) {
      pending_.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return std::nullopt;  // EOF: the child is gone or closed its stdout
    } else if (errno != EAGAIN && errno != EINTR) {
      return std::nullopt;
    }
  }
}

void Child::drain_stdout() {
  if (stdout_fd_ < 0) return;
  char buf[4096];
  while (::read(stdout_fd_, buf, sizeof buf) > 0) {
  }
}

bool Child::poll_exit() {
  if (reaped_) return true;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
    unregister_group(pid_);
    // The leader is gone but its group may not be: anything it forked dies too.
    ::kill(-pid_, SIGKILL);
  }
  return reaped_;
}

bool Child::wait_exit(int timeout_ms) {
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000;
  while (!poll_exit()) {
    if (now_ns() >= deadline) return false;
    drain_stdout();
    ::usleep(5'000);  // 5 ms: stop latency needs no better, and it costs nothing measurable
  }
  return true;
}

std::string Child::describe_exit() const {
  if (!reaped_) return "still running";
  if (WIFEXITED(status_)) return "exited with status " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_)) {
    int s = WTERMSIG(status_);
    // "killed by signal 11 (SIGSEGV, Segmentation fault)": the number, the
    // name a user greps for, and the words.
    const char* abbrev = ::sigabbrev_np(s);
    const char* name = ::sigdescr_np(s);
    std::string words = abbrev ? std::string("SIG") + abbrev : "";
    if (name) words += (words.empty() ? "" : ", ") + std::string(name);
    return "killed by signal " + std::to_string(s) + (words.empty() ? "" : " (" + words + ")");
  }
  return "status " + std::to_string(status_);
}

void Child::signal(int sig) noexcept {
  if (!reaped_) ::kill(pid_, sig);
}

void Child::kill_group() noexcept {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  if (!reaped_) {
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    status_ = st;
  }
  unregister_group(pid_);
}

void install_child_reaper_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

void defer_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = on_grace_expired;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGALRM, &sa, nullptr);
  g_deferred.store(true);
}

int interrupted() noexcept { return g_interrupt.load(); }

void throw_if_interrupted() {
  if (g_interrupt.load() && !g_cleaning_up.load()) throw Interrupted();
}

void begin_interrupt_cleanup() noexcept {
  g_cleaning_up.store(true);
  g_refuse_children.store(false);
}

void die_of_interrupt() {
  kill_live_groups();
  die_of(g_interrupt.load() ? g_interrupt.load() : SIGTERM);
}

}  // namespace iomodels::harness
