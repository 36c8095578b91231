// Where the server and the load generators run: the topology of a run.
//
//   loopback  everything on this machine over 127.0.0.1 (the default)
//   netns     a server namespace and N client namespaces joined by veth pairs
//             through a bridge that lives in a namespace of its own, with
//             addresses from the benchmarking range 198.18.0.0/15 (RFC 2544),
//             or with --family ipv6 from the unique local prefix fd00:198:18::/64
//   hosts     a file naming a server host and client hosts, each reached
//             through a command prefix (default `ssh -o BatchMode=yes HOST`)
//
// netns is the hosts mechanism with the prefix `ip netns exec NS`, so tests on
// one machine run the same code path as a real multi-host run. Nothing here
// touches the root namespace's links or addresses: deleting the namespaces
// deletes every veth and the bridge with them.
#pragma once
#include <sys/socket.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

// --link "delay=5ms,jitter=0.5ms,distribution=normal,loss=0.1%,rate=1gbit":
// netem on every host's link, in its egress direction, so delay is one way
// and a round trip pays it twice (delay=5ms gives 10 ms RTT); loss too is per
// direction (loss=1% loses about 2% of round trips). The userspace delay line
// applies the same delay, jitter (uniform or normal) and loss, but not rate.
struct LinkSpec {
  double delay_ms = 0;
  double jitter_ms = 0;
  std::string distribution;  // of the jitter: "" (netem's default, uniform) | uniform | normal | pareto | paretonormal
  double loss_pct = 0;
  std::string rate;  // as tc writes it: "1gbit", "100mbit"; empty = unlimited
  bool empty() const { return delay_ms == 0 && jitter_ms == 0 && loss_pct == 0 && rate.empty(); }
  std::vector<std::string> netem_args() const;  // "delay 5ms 0.5ms distribution normal loss 0.1% rate 1gbit"
  // What the delay line cannot emulate ("" when it can all of it).
  std::string beyond_delayline() const;
  nlohmann::json to_json() const;
};
// Throws std::invalid_argument naming the key that is wrong.
LinkSpec parse_link(const std::string& text);

struct Host {
  std::string name;
  std::vector<std::string> prefix;  // argv put before every command; empty = local
  std::vector<int> cpus;            // where this host's process is pinned (empty: not pinned)
  std::string bin_dir;              // where the iomodels executables are on that host
  std::string address;              // server: the address clients connect to;
                                    // client: its source address (informational)
  nlohmann::json to_json() const;
};

struct Topology {
  std::string kind = "loopback";  // loopback | netns | hosts
  Host server;
  std::vector<Host> clients;      // empty for loopback: the harness's own loadgen
  LinkSpec link;
  std::string link_emulation;     // "netem" | "delayline" | "" (no --link)
  bool remote() const { return kind != "loopback"; }
  nlohmann::json to_json() const;
};

// {"server": {"name": "s1", "transport": "ssh -o BatchMode=yes s1", "cpus": "0-3",
//             "bin_dir": "/opt/iomodels/build", "address": "10.0.0.1"},
//  "clients": [{"name": "c1", "cpus": "0-7", "bin_dir": "..."}, ...]}
// "transport" defaults to `ssh -o BatchMode=yes NAME`; "local" means no prefix.
// Throws std::invalid_argument naming the field.
Topology parse_hosts(const nlohmann::json& j, const std::string& file);
Topology load_hosts_file(const std::string& path);

// "ipv4" or "ipv6": the family of a host's address (a name resolves as the
// loadgen would resolve it); "unknown" when it does not parse or resolve.
std::string address_family(const std::string& address);

// Each host of a remote topology with its role, transport, CPUs, and the
// kernel and CPU model it reports through its transport ("unreachable: ..."
// when the transport fails).
nlohmann::json describe_hosts(const Topology& t);

// True when `tc qdisc ... netem` can work here (the kernel has sch_netem).
bool netem_available();

// How a netns lab emulates `link`: "netem" when the kernel has it, else
// "delayline" (bin_dir/delayline over TUN devices: delay, jitter, loss), else
// "" with the reason in *why.
std::string choose_link_emulation(const LinkSpec& link, const std::string& bin_dir, std::string* why);

class Child;

// The namespaces of one netns run. The constructor builds them (throws
// std::runtime_error with the failing command), the destructor removes them;
// a SIGINT/SIGTERM of the harness removes them through remove_all_registered(),
// and a SIGKILL leaves them for cleanup_leftovers() on the next run, which
// recognises them by the owner pid in their names.
//
// Without netem a --link delay runs through the delay line: one process,
// pinned to client_cpus, with a TUN pair per client (client namespace <->
// server namespace) whose point-to-point routes to the peer's address take
// precedence over the bridge's /16. Its stderr (counters at exit) goes to
// log_dir/delayline.log, or to the harness's stderr when log_dir is empty.
class NetnsLab {
 public:
  // family AF_INET6: the lab's addresses come from the ULA prefix
  // fd00:198:18::/64 instead of 198.18.0.0/15 (server ::1, client i ::1:i).
  NetnsLab(int clients, const LinkSpec& link, const std::string& bin_dir,
           const std::vector<int>& server_cpus, const std::vector<int>& client_cpus,
           const std::string& log_dir = "", int family = AF_INET);
  ~NetnsLab();
  NetnsLab(const NetnsLab&) = delete;
  NetnsLab& operator=(const NetnsLab&) = delete;

  const Topology& topology() const { return topo_; }
  pid_t delayline_pid() const;  // -1 without a delay line
  const std::vector<std::string>& namespaces() const { return names_; }

  static constexpr const char* kPrefix = "iomns-";
  // Deletes iomns-<pid>-* namespaces whose owner pid is gone; returns how many.
  static int cleanup_leftovers();
  // Async-signal-safe: unmounts and unlinks every namespace this process made.
  static void remove_all_registered() noexcept;

 private:
  void start_delayline(const std::string& bin_dir, const std::vector<int>& cpus, const std::string& log_dir);
  void stop_delayline() noexcept;

  Topology topo_;
  std::vector<std::string> names_;
  std::unique_ptr<Child> delayline_;
};

// true when this process may create namespaces (root, `ip` present).
bool netns_supported(std::string* why);

}  // namespace iomodels::harness
