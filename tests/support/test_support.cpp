#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "test_paths.inc"
#include "tests/support/test_support_poll.h"

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;

using detail::errno_text;
using detail::poll_one;

}  // namespace

// ---- servers ----------------------------------------------------------------------

const std::vector<ServerEntry>& all_servers() {
  static const std::vector<ServerEntry> list = {IOMODELS_SERVER_LIST};
  return list;
}

std::string server_path(std::string_view name) {
  for (const auto& s : all_servers())
    if (s.name == name) return s.path;
  return {};
}

void PrintTo(const ServerEntry& e, std::ostream* os) { *os << e.name; }

std::string ExitStatus::describe() const {
  std::ostringstream s;
  if (timed_out) s << "did not exit in time (killed); ";
  if (exited) s << "exit code " << exit_code;
  else if (signal) s << "killed by signal " << signal << " (" << strsignal(signal) << ")";
  else s << "not reaped";
  s << " after " << elapsed.count() << " ms";
  return s.str();
}

// ---- ServerProcess ----------------------------------------------------------------

ServerProcess ServerProcess::start(const std::string& path, const std::vector<std::string>& args,
                                   const StartOptions& opt) {
  ServerProcess p;
  std::vector<std::string> all{path};
  all.insert(all.end(), args.begin(), args.end());
  if (opt.stats_file) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/iomodels-test-XXXXXX";
    if (!::mkdtemp(templ.data())) throw std::runtime_error(errno_text("mkdtemp"));
    p.temp_dir_ = templ;
    p.stats_path_ = templ + "/stats.json";
    all.push_back("--stats-file");
    all.push_back(p.stats_path_);
  }
  // Everything the child needs is built before fork: after it, only
  // async-signal-safe calls (this process may have threads).
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The environment: ours, with opt.env's NAME=VALUE entries replacing or adding.
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = std::any_of(opt.env.begin(), opt.env.end(), [&](const std::string& o) {
      return std::string_view(o).substr(0, o.find('=')) == name;
    });
    if (!replaced) env_text.emplace_back(entry);
  }
  env_text.insert(env_text.end(), opt.env.begin(), opt.env.end());
  std::vector<char*> envp;
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(err));
  }
  if (pid == 0) {
    // dup2 clears CLOEXEC on the copy, except when the pipe already is fd 1
    // (this process was started with stdout closed): then clear it by hand.
    if (pipefd[1] == STDOUT_FILENO) ::fcntl(STDOUT_FILENO, F_SETFD, 0);
    else ::dup2(pipefd[1], STDOUT_FILENO);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // If the test process dies without running destructors, the server dies too.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  p.pid_ = pid;
  p.stdout_ = Fd(pipefd[0]);

  // Read the "listening ADDR:PORT" line.
  std::string got;
  auto end = Clock::now() + opt.listen_deadline;
  size_t nl = std::string::npos;
  while ((nl = got.find('\n')) == std::string::npos) {
    short ev = poll_one(p.stdout_.get(), POLLIN, end);
    if (ev == 0) break;
    char buf[4096];
    ssize_t n = ::read(p.stdout_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  std::string line = nl == std::string::npos ? got : got.substr(0, nl);
  const std::string prefix = "listening ";
  auto colon = line.rfind(':');
  if (nl == std::string::npos || line.rfind(prefix, 0) != 0 || colon == std::string::npos) {
    ExitStatus st = p.wait(milliseconds(200));
    throw std::runtime_error(path + ": no 'listening ADDR:PORT' line (got '" + got + "'; " +
                             st.describe() + ")");
  }
  p.address_ = line.substr(prefix.size());
  p.port_ = static_cast<uint16_t>(std::stoi(line.substr(colon + 1)));
  p.stdout_rest_ = got.substr(nl + 1);
  return p;
}

ServerProcess::ServerProcess(ServerProcess&& o) noexcept { *this = std::move(o); }

ServerProcess& ServerProcess::operator=(ServerProcess&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = std::exchange(o.pid_, -1);
    port_ = o.port_;
    address_ = std::move(o.address_);
    stdout_ = std::move(o.stdout_);
    stdout_rest_ = std::move(o.stdout_rest_);
    temp_dir_ = std::exchange(o.temp_dir_, {});
    stats_path_ = std::move(o.stats_path_);
  }
  return *this;
}

ServerProcess::~ServerProcess() {
  kill_and_reap();
  if (!temp_dir_.empty()) {
    ::unlink(stats_path_.c_str());
    ::unlink((stats_path_ + ".tmp").c_str());
    ::rmdir(temp_dir_.c_str());
  }
}

void ServerProcess::kill_and_reap() noexcept {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  pid_ = -1;  // reaped (or gone): nothing left to kill
  return false;
}

ExitStatus ServerProcess::stop(int sig, milliseconds deadline) {
  if (pid_ > 0) ::kill(pid_, sig);
  return wait(deadline);
}

ExitStatus ServerProcess::wait(milliseconds deadline) {
  ExitStatus st;
  auto t0 = Clock::now();
  auto end = t0 + deadline;
  int status = 0;
  while (pid_ > 0) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) { pid_ = -1; return st; }
    if (Clock::now() >= end) {
      st.timed_out = true;
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  if (pid_ <= 0) return st;
  pid_ = -1;
  st.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - t0);
  if (WIFEXITED(status)) {
    st.exited = true;
    st.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    st.signal = WTERMSIG(status);
  }
  // Keep what it printed after "listening" (the stats JSON without --stats-file).
  auto drain_end = Clock::now() + milliseconds(500);
  while (stdout_ && poll_one(stdout_.get(), POLLIN, drain_end) != 0) {
    char buf[65536];
    ssize_t n = ::read(stdout_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    stdout_rest_.append(buf, size_t(n));
  }
  return st;
}

nlohmann::json ServerProcess::snapshot(milliseconds deadline) {
  if (pid_ <= 0 || ::kill(pid_, SIGUSR1) != 0) throw std::runtime_error("snapshot: no server to signal");
  auto end = Clock::now() + deadline;
  for (;;) {
    size_t nl = stdout_rest_.find('\n');
    if (nl != std::string::npos) {
      std::string line = stdout_rest_.substr(0, nl);
      stdout_rest_.erase(0, nl + 1);
      if (line.rfind("stats ", 0) == 0) return nlohmann::json::parse(line.substr(6));
      continue;
    }
    if (poll_one(stdout_.get(), POLLIN, end) == 0) throw std::runtime_error("snapshot: no 'stats' line in time");
    char buf[4096];
    ssize_t n = ::read(stdout_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("snapshot: the server closed its stdout");
    stdout_rest_.append(buf, size_t(n));
  }
}

nlohmann::json ServerProcess::read_stats() {
  std::string text;
  if (!stats_path_.empty()) {
    std::ifstream f(stats_path_);
    if (!f) throw std::runtime_error("no stats file at " + stats_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  } else {
    text = stdout_rest_;
  }
  return nlohmann::json::parse(text);  // throws on malformed JSON
}

long ServerProcess::peak_rss_kb() const {
  if (pid_ <= 0) return -1;
  std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
  std::string key;
  while (f >> key) {
    if (key == "VmHWM:") {
      long kb = -1;
      f >> kb;
      return kb;
    }
    f.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace iomodels::test
