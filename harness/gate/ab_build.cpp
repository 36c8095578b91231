#include "harness/gate/ab_build.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/clock.h"
#include "harness/run/process.h"
#include "harness/run/server_list.h"

namespace iomodels::harness {
namespace {

namespace fs = std::filesystem;

struct Cmd {
  bool ok = false;
  std::string out;  // stdout when captured
};

// execv takes a path: look a bare name up in PATH the way a shell would.
std::string on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = ::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':'))
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  throw std::runtime_error(name + " is not installed (not found in PATH)");
}

// Runs argv to completion. Captured stdout comes back; otherwise stdout and
// stderr are appended to the log, where a failed build can be read.
Cmd run(std::vector<std::string> argv, const std::string& log, bool capture, int timeout_s = 60) {
  argv[0] = on_path(argv[0]);
  SpawnOptions so;
  if (capture) {
    so.argv = std::move(argv);
    so.capture_stdout = true;
  } else {
    so.argv = {"/bin/sh", "-c", "log=$1; shift; exec \"$@\" >>\"$log\" 2>&1", "sh", log};
    so.argv.insert(so.argv.end(), argv.begin(), argv.end());
  }
  so.stderr_path = log;
  Child c(so);
  Cmd r;
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_s) * 1'000'000'000ULL;
  auto left_ms = [&] { return static_cast<int>(std::max<int64_t>(0, static_cast<int64_t>(deadline - now_ns()) / 1'000'000)); };
  if (capture)
    while (auto line = c.read_line(left_ms())) r.out += *line + "\n";
  if (!c.wait_exit(left_ms())) {
    c.kill_group();
    return r;
  }
  throw_if_interrupted();  // killed by our signal handler: not a failed build
  r.ok = WIFEXITED(c.raw_status()) && WEXITSTATUS(c.raw_status()) == 0;
  if (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r;
}

// Worktrees this process added: (settings, folder holding src), for
// remove_worktrees_added() after an interrupt.
std::vector<std::pair<BuildSettings, std::string>>& worktrees_added() {
  static std::vector<std::pair<BuildSettings, std::string>> added;
  return added;
}

Cmd git(const BuildSettings& b, std::vector<std::string> args, bool capture = true) {
  args.insert(args.begin(), {"git", "-C", b.source_dir});
  return run(std::move(args), b.log_path, capture);
}

// "KEY:TYPE=VALUE" from a CMakeCache.txt; empty when absent.
std::string cache_value(const std::string& build, const std::string& key) {
  std::ifstream in(build + "/CMakeCache.txt");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      auto eq = line.find('=');
      return eq == std::string::npos ? "" : line.substr(eq + 1);
    }
  return "";
}

// Does REV (or the work tree, for an empty rev) have the requirement?
bool has(const BuildSettings& b, const std::string& rev, const GateRequirement& r) {
  if (std::string(r.needle).empty()) {
    if (rev.empty()) return fs::exists(b.source_dir + "/" + r.path);
    return git(b, {"cat-file", "-e", rev + ":" + r.path}).ok;
  }
  std::vector<std::string> args = {"grep", "-q", "-F", r.needle};
  if (!rev.empty()) args.push_back(rev);
  args.insert(args.end(), {"--", r.path});
  return git(b, args).ok;
}

}  // namespace

const std::vector<GateRequirement>& gate_requirements() {
  static const std::vector<GateRequirement> k = {
      {"harness/gate/ab.cpp", "", "the A/B gate itself"},
      {"servers/CMakeLists.txt", "FAMILY", "the server list (build/servers.json)"},
      {"loadgen/", "notify-fd", "the loadgen's measured window (--notify-fd)"},
      {"servers/common/", "SIGUSR1", "server stats snapshots on SIGUSR1"},
  };
  return k;
}

Revision worktree_revision(const BuildSettings& b, const std::string& bin_dir) {
  Revision r;
  r.spec = "worktree";
  r.sha = git(b, {"rev-parse", "HEAD"}).out;
  bool modified = !git(b, {"status", "--porcelain", "--untracked-files=no"}).out.empty();
  r.label = "worktree (" + r.sha.substr(0, 7) + (modified ? ", modified)" : ")");
  r.bin_dir = bin_dir;
  r.message = git(b, {"log", "-1", "--format=%B", "HEAD"}).out;
  return r;
}

Revision build_revision(const BuildSettings& b, const std::string& spec, bool is_base) {
  auto fail = [&](const std::string& why) -> Revision {
    if (is_base) throw NoComparableBase(why);
    throw std::runtime_error("head " + spec + ": " + why);
  };
  Revision r;
  r.spec = spec;
  Cmd sha = git(b, {"rev-parse", "--verify", "--quiet", spec + "^{commit}"});
  if (!sha.ok || sha.out.empty())
    return fail("'" + spec + "' is not a commit in this clone (a shallow CI checkout needs fetch-depth: 2 or more)");
  r.sha = sha.out;
  r.label = r.sha.substr(0, 7) + (spec != r.sha ? " (" + spec + ")" : "");
  r.message = git(b, {"log", "-1", "--format=%B", r.sha}).out;
  if (is_base)
    for (const auto& req : gate_requirements())
      if (has(b, "", req) && !has(b, r.sha, req))
        return fail(r.label + " predates " + req.what + " (" +
                    (std::string(req.needle).empty() ? "no " + std::string(req.path)
                                                     : "no '" + std::string(req.needle) + "' in " + req.path) + ")");

  const std::string dir = b.work_dir + "/" + r.sha.substr(0, 12);
  // The build folder sits at src/build, as in the work tree, so that ccache
  // (CCACHE_BASEDIR) sees the same relative paths and reuses the objects of
  // every file the two revisions share.
  const std::string src = dir + "/src", build = src + "/build";
  if (fs::exists(src) && run({"git", "-C", src, "rev-parse", "HEAD"}, b.log_path, true).out != r.sha) {
    git(b, {"worktree", "remove", "--force", src}, false);
    std::error_code ec;
    fs::remove_all(src, ec);
  }
  if (!fs::exists(src)) {
    fs::create_directories(dir);
    worktrees_added().emplace_back(b, dir);  // before the add: an interrupt may land inside it
    git(b, {"worktree", "prune"}, false);
    if (!git(b, {"worktree", "add", "--detach", "--force", src, r.sha}, false).ok)
      return fail("git worktree add failed (see " + b.log_path + ")");
  }
  if (!fs::exists(build + "/CMakeCache.txt")) {
    std::vector<std::string> cfg = {"cmake", "-S", src, "-B", build};
    std::string gen = cache_value(b.reference_build, "CMAKE_GENERATOR");
    if (!gen.empty()) cfg.insert(cfg.end(), {"-G", gen});
    std::string type = cache_value(b.reference_build, "CMAKE_BUILD_TYPE");
    cfg.push_back("-DCMAKE_BUILD_TYPE=" + (type.empty() ? std::string("Release") : type));
    std::string flags = cache_value(b.reference_build, "CMAKE_CXX_FLAGS");
    if (!flags.empty()) cfg.push_back("-DCMAKE_CXX_FLAGS=" + flags);
    if (!run(cfg, b.log_path, false, 600).ok) return fail("does not configure (see " + b.log_path + ")");
  }
  std::vector<std::string> targets = {"loadgen"};
  for (const auto& s : read_server_list(build + "/servers.json"))
    if (b.servers.empty() || std::find(b.servers.begin(), b.servers.end(), s.name) != b.servers.end())
      targets.push_back(s.name);
  std::vector<std::string> cmd = {"cmake", "--build", build, "-j", std::to_string(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN))), "--target"};
  cmd.insert(cmd.end(), targets.begin(), targets.end());
  if (!run(cmd, b.log_path, false, 3600).ok) return fail("does not build (see " + b.log_path + ")");
  r.bin_dir = build;
  return r;
}

void remove_worktrees_added() {
  for (const auto& [b, dir] : worktrees_added()) {
    // An add cut short leaves its worktree locked ("initializing"): unlock,
    // and force twice, which is what removes a locked one.
    git(b, {"worktree", "unlock", dir + "/src"}, false);
    git(b, {"worktree", "remove", "--force", "--force", dir + "/src"}, false);
    std::error_code ec;
    fs::remove_all(dir, ec);
    git(b, {"worktree", "prune"}, false);
  }
  worktrees_added().clear();
}

}  // namespace iomodels::harness
