#include "harness/remote/topology.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/socket_util.h"
#include "harness/run/process.h"

namespace iomodels::harness {
namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Runs argv (searched on PATH), waits, returns the exit status; its combined
// output lands in *output. Used only for setup (ip, tc), never on a hot path.
int run_command(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe2");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    ::dup2(pipefd[1], STDOUT_FILENO);
    ::dup2(pipefd[1], STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0 && output) output->append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void must(const std::vector<std::string>& argv) {
  std::string out;
  if (run_command(argv, &out) != 0)
    throw std::runtime_error("netns setup: `" + join(argv) + "` failed: " + out);
}

// Signal-safe registry of the namespaces this process made: fixed storage, no
// allocation, read by remove_all_registered() from a signal handler.
constexpr int kMaxRegistered = 64;
char g_registered[kMaxRegistered][64];
volatile sig_atomic_t g_registered_count = 0;

void register_ns(const std::string& name) {
  if (g_registered_count >= kMaxRegistered || name.size() >= 40) return;
  std::snprintf(g_registered[g_registered_count], 64, "/run/netns/%s", name.c_str());
  g_registered_count = g_registered_count + 1;
}

// What `ip netns delete` does, in syscalls only: the namespace dies with its
// last reference, and its veths and bridge die with it.
void remove_ns_path(const char* path) noexcept {
  ::umount2(path, MNT_DETACH);
  ::unlink(path);
}

}  // namespace

nlohmann::json Host::to_json() const {
  return {{"name", name}, {"transport", join(prefix)}, {"cpus", cpus}, {"bin_dir", bin_dir},
          {"address", address}};
}

nlohmann::json Topology::to_json() const {
  nlohmann::json c = nlohmann::json::array();
  for (const auto& h : clients) c.push_back(h.to_json());
  nlohmann::json emulation = link_emulation.empty() ? nlohmann::json(nullptr) : nlohmann::json(link_emulation);
  return {{"kind", kind}, {"server", server.to_json()}, {"clients", c}, {"link", link.to_json()},
          {"link_emulation", emulation}};
}

Topology parse_hosts(const nlohmann::json& j, const std::string& file) {
  auto bad = [&](const std::string& what) { return std::invalid_argument(file + ": " + what); };
  if (!j.is_object() || !j.contains("server") || !j.contains("clients") || !j["clients"].is_array() ||
      j["clients"].empty())
    throw bad("want {\"server\": {...}, \"clients\": [{...}, ...]}");
  auto host = [&](const nlohmann::json& h, const std::string& where) {
    if (!h.is_object() || !h.contains("name") || !h["name"].is_string())
      throw bad(where + ".name: missing");
    Host out;
    out.name = h["name"];
    std::string transport = h.value("transport", "ssh -o BatchMode=yes " + out.name);
    if (transport != "local") out.prefix = split_words(transport);
    try {
      if (h.contains("cpus")) out.cpus = parse_cpu_list(h["cpus"].get<std::string>());
    } catch (const std::exception& e) {
      throw bad(where + ".cpus: " + e.what());
    }
    out.bin_dir = h.value("bin_dir", "");
    if (out.bin_dir.empty()) throw bad(where + ".bin_dir: missing");
    out.address = h.value("address", "");
    return out;
  };
  Topology t;
  t.kind = "hosts";
  t.server = host(j["server"], "server");
  if (t.server.address.empty()) throw bad("server.address: missing (what clients connect to)");
  for (size_t i = 0; i < j["clients"].size(); ++i)
    t.clients.push_back(host(j["clients"][i], "clients[" + std::to_string(i) + "]"));
  return t;
}

Topology load_hosts_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("--topology hosts:" + path + ": cannot read the file");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument(path + ": not valid JSON");
  return parse_hosts(j, path);
}

std::string address_family(const std::string& address) {
  try {
    return family_name(resolve_endpoint(address, 1).family());
  } catch (const std::invalid_argument&) {
    return "unknown";
  }
}

nlohmann::json describe_hosts(const Topology& t) {
  auto probe = [](const Host& h, const std::string& role) {
    nlohmann::json j = h.to_json();
    j["role"] = role;
    // Words without quotes or spaces: ssh joins its arguments into one line
    // for the far shell, `ip netns exec` runs them as they are; both must
    // mean the same command (model.name: the regex dot stands for the space).
    std::vector<std::string> argv = h.prefix;
    argv.insert(argv.end(), {"uname", "-sr"});
    std::string out;
    if (run_command(argv, &out) != 0) {
      j["kernel"] = "unreachable: " + out.substr(0, 200);
      return j;
    }
    j["kernel"] = out.substr(0, out.find('\n'));
    argv.resize(h.prefix.size());
    argv.insert(argv.end(), {"grep", "-m1", "model.name", "/proc/cpuinfo"});
    std::string cpu;
    run_command(argv, &cpu);
    cpu = cpu.substr(0, cpu.find('\n'));
    size_t colon = cpu.find(':');
    cpu = colon == std::string::npos ? "" : cpu.substr(colon + 1);
    size_t first = cpu.find_first_not_of(' ');
    j["cpu_model"] = first == std::string::npos ? "" : cpu.substr(first);
    return j;
  };
  nlohmann::json hosts = nlohmann::json::array({probe(t.server, "server")});
  for (const auto& c : t.clients) hosts.push_back(probe(c, "client"));
  return hosts;
}

bool netns_supported(std::string* why) {
  if (::geteuid() != 0) { *why = "netns topology needs root (creating namespaces)"; return false; }
  std::string out;
  if (run_command({"ip", "-V"}, &out) != 0) { *why = "`ip` not found: install iproute2"; return false; }
  return true;
}

bool netem_available() {
  // The kernel loads sch_netem on first use where it is a module; the only
  // reliable test is to try it on a throwaway namespace's loopback.
  std::string name = std::string(NetnsLab::kPrefix) + std::to_string(::getpid()) + "-probe";
  std::string out;
  if (run_command({"ip", "netns", "add", name}, &out) != 0) return false;
  int rc = run_command({"ip", "netns", "exec", name, "tc", "qdisc", "add", "dev", "lo", "root",
                        "netem", "delay", "1ms"}, &out);
  run_command({"ip", "netns", "del", name}, &out);
  return rc == 0;
}

std::string choose_link_emulation(const LinkSpec& link, const std::string& bin_dir, std::string* why) {
  if (netem_available()) return "netem";
  const std::string base = "--link needs tc netem, and this kernel lacks sch_netem (CONFIG_NET_SCH_NETEM); ";
  if (std::string beyond = link.beyond_delayline(); !beyond.empty())
    *why = base + "the userspace delay line emulates delay, jitter (uniform or normal) and loss, not " + beyond;
  else if (::access("/dev/net/tun", R_OK | W_OK) != 0)
    *why = base + "nor can the delay line open /dev/net/tun (CONFIG_TUN)";
  else if (::access((bin_dir + "/delayline").c_str(), X_OK) != 0)
    *why = base + "and there is no delay line at " + bin_dir + "/delayline (build target delayline)";
  else
    return "delayline";
  return "";
}

NetnsLab::NetnsLab(int clients, const LinkSpec& link, const std::string& bin_dir,
                   const std::vector<int>& server_cpus, const std::vector<int>& client_cpus,
                   const std::string& log_dir, int family) {
  if (clients < 1 || clients > 200) throw std::invalid_argument("netns: clients must be 1..200");
  const bool v6 = family == AF_INET6;
  std::string why;
  if (!link.empty() && (topo_.link_emulation = choose_link_emulation(link, bin_dir, &why)).empty())
    throw std::runtime_error(why);
  if (v6 && topo_.link_emulation == "delayline")
    throw std::runtime_error("netns: --link over IPv6 needs tc netem; the userspace delay line is IPv4 only");
  cleanup_leftovers();
  static int serial = 0;  // two labs in one process never share a name
  const std::string base = kPrefix + std::to_string(::getpid()) + "-" + std::to_string(++serial) + "-";
  const std::string sw = base + "sw";
  auto add_ns = [&](const std::string& n) {
    must({"ip", "netns", "add", n});
    register_ns(n);
    names_.push_back(n);
    must({"ip", "-n", n, "link", "set", "lo", "up"});
  };
  try {
    add_ns(sw);
    must({"ip", "-n", sw, "link", "add", "br0", "type", "bridge"});
    must({"ip", "-n", sw, "link", "set", "br0", "up"});
    topo_.kind = "netns";
    topo_.link = link;
    auto attach = [&](const std::string& ns, int index, const std::string& addr) {
      const std::string port = "p" + std::to_string(index);
      must({"ip", "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", sw});
      must({"ip", "-n", sw, "link", "set", port, "master", "br0", "up"});
      // nodad: a fresh IPv6 address is otherwise "tentative" (unusable) for a
      // second or two while duplicate detection runs on a bridge only we are on.
      if (v6) must({"ip", "-n", ns, "addr", "add", addr + "/64", "dev", "eth0", "nodad"});
      else must({"ip", "-n", ns, "addr", "add", addr + "/16", "dev", "eth0"});
      must({"ip", "-n", ns, "link", "set", "eth0", "up"});
      if (topo_.link_emulation == "netem") {
        std::vector<std::string> tc{"ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root"};
        for (auto& a : link.netem_args()) tc.push_back(a);
        must(tc);
      }
    };
    const std::string srv = base + "srv";
    add_ns(srv);
    const std::string server_addr = v6 ? "fd00:198:18::1" : "198.18.0.1";
    attach(srv, 0, server_addr);
    topo_.server = Host{"server", {"ip", "netns", "exec", srv}, server_cpus, bin_dir, server_addr};
    for (int i = 0; i < clients; ++i) {
      const std::string ns = base + "c" + std::to_string(i + 1);
      add_ns(ns);
      const std::string addr = (v6 ? "fd00:198:18::1:" : "198.18.1.") + std::to_string(i + 1);
      attach(ns, i + 1, addr);
      topo_.clients.push_back(Host{"client" + std::to_string(i + 1), {"ip", "netns", "exec", ns},
                                   client_cpus, bin_dir, addr});
    }
    if (topo_.link_emulation == "delayline") start_delayline(bin_dir, client_cpus, log_dir);
  } catch (...) {
    stop_delayline();
    for (const auto& n : names_) remove_ns_path(("/run/netns/" + n).c_str());
    throw;
  }
}

void NetnsLab::start_delayline(const std::string& bin_dir, const std::vector<int>& cpus, const std::string& log_dir) {
  auto us = [](double ms) { std::ostringstream o; o << ms * 1000 << "us"; return o.str(); };
  SpawnOptions o;
  o.argv = {bin_dir + "/delayline", "--delay", us(topo_.link.delay_ms), "--server-ns", topo_.server.prefix.back(),
            "--server-addr", topo_.server.address};
  if (topo_.link.jitter_ms > 0) {
    o.argv.insert(o.argv.end(), {"--jitter", us(topo_.link.jitter_ms)});
    if (!topo_.link.distribution.empty()) o.argv.insert(o.argv.end(), {"--distribution", topo_.link.distribution});
  }
  if (topo_.link.loss_pct > 0) {
    std::ostringstream loss;
    loss << topo_.link.loss_pct << "%";
    o.argv.insert(o.argv.end(), {"--loss", loss.str()});
  }
  for (const auto& c : topo_.clients) o.argv.insert(o.argv.end(), {"--client", c.prefix.back() + "=" + c.address});
  o.cpus = cpus;
  o.capture_stdout = true;
  if (!log_dir.empty()) o.stderr_path = log_dir + "/delayline.log";
  delayline_ = std::make_unique<Child>(o);
  auto line = delayline_->read_line(10'000);
  if (line && *line == "ready") return;
  delayline_->wait_exit(1000);
  throw std::runtime_error("netns setup: the delay line did not start (" +
                           (delayline_->exited() ? delayline_->describe_exit() : std::string("no `ready` in 10 s")) +
                           (log_dir.empty() ? ")" : "; see " + log_dir + "/delayline.log)"));
}

// SIGTERM so that it prints its counters; the Child destructor kills what is left.
void NetnsLab::stop_delayline() noexcept {
  if (!delayline_) return;
  delayline_->signal(SIGTERM);
  delayline_->wait_exit(3000);
  delayline_.reset();
}

pid_t NetnsLab::delayline_pid() const { return delayline_ ? delayline_->pid() : -1; }

NetnsLab::~NetnsLab() {
  stop_delayline();
  for (const auto& n : names_) remove_ns_path(("/run/netns/" + n).c_str());
}

int NetnsLab::cleanup_leftovers() {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind(kPrefix, 0) != 0) continue;
    long owner = std::strtol(n.c_str() + std::strlen(kPrefix), nullptr, 10);
    bool alive = owner > 0 && (::kill(static_cast<pid_t>(owner), 0) == 0 || errno == EPERM);
    if (alive) continue;
    remove_ns_path(e.path().c_str());
    ++removed;
  }
  return removed;
}

void NetnsLab::remove_all_registered() noexcept {
  for (int i = 0; i < g_registered_count; ++i) remove_ns_path(g_registered[i]);
}

}  // namespace iomodels::harness
