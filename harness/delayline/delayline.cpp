// delayline: a userspace link between network namespaces with netem's delay,
// jitter and loss, for kernels without sch_netem (the idea of Mahimahi's
// delayshell, written anew). For each client namespace it owns two TUN
// devices: dlc<i> in the client namespace and dls<i> in the server namespace,
// each with a point-to-point address whose peer is the other end, so the
// kernel routes client->server traffic into dlc<i>. A packet read from one
// TUN is dropped with probability --loss (netem's `loss random P%`: each
// packet on its own), else waits until now + delay + a draw of the jitter
// distribution (netem's `delay D J distribution uniform|normal`: uniform in
// [D-J, D+J], or normal with mean D and deviation J, never below zero), then
// is written to the other TUN. Like netem's time-ordered queue, packets leave
// in deadline order, so jitter larger than the gap between packets reorders
// them, as it does with netem. Everything runs in one epoll loop with one
// timerfd. The random stream is seeded (--seed), so a run can be repeated.
// TUN devices are not persistent: they vanish with this process's descriptors.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <system_error>
#include <vector>

namespace {

struct Packet {
  uint64_t due_ns, serial;  // serial: equal deadlines leave in arrival order
  std::string bytes;
  bool operator>(const Packet& o) const { return due_ns != o.due_ns ? due_ns > o.due_ns : serial > o.serial; }
};

// One direction of one client's link: read from `in`, write to `out`.
// drops: the queue was full or the write failed; lost: the emulated loss.
struct Lane {
  int in = -1, out = -1;
  std::priority_queue<Packet, std::vector<Packet>, std::greater<>> queue;  // earliest deadline on top
  uint64_t packets = 0, bytes = 0, drops = 0, lost = 0, max_queue = 0, serial = 0;
};

// What happens to one packet: lost, or held for delay_ns().
class Impairment {
 public:
  enum class Shape { kUniform, kNormal };
  Impairment(int64_t delay_ns, int64_t jitter_ns, Shape shape, double loss, uint64_t seed)
      : delay_(static_cast<double>(delay_ns)), jitter_(static_cast<double>(jitter_ns)), shape_(shape),
        loss_(loss), rng_(seed) {}
  bool lose() { return loss_ > 0 && unit_(rng_) < loss_; }
  uint64_t delay_ns() {
    if (jitter_ <= 0) return static_cast<uint64_t>(delay_);
    double d = shape_ == Shape::kUniform ? delay_ + jitter_ * (2 * unit_(rng_) - 1)
                                         : std::normal_distribution<double>(delay_, jitter_)(rng_);
    return d > 0 ? static_cast<uint64_t>(d) : 0;  // a packet cannot leave before it came
  }

 private:
  double delay_, jitter_;
  Shape shape_;
  double loss_;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

[[noreturn]] void fail(const char* call) { throw std::system_error(errno, std::generic_category(), call); }

[[noreturn]] void usage_error(const std::string& option, const std::string& why) {
  std::fprintf(stderr, "delayline: %s: %s (see --help)\n", option.c_str(), why.c_str());
  std::exit(2);
}

uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// "5ms", "500us", "1.5s" -> ns; -1 when malformed.
int64_t parse_duration_ns(const std::string& v) {
  char* end = nullptr;
  double x = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || x < 0 || x > 10'000) return -1;
  std::string unit(end);
  double scale = unit == "ms" ? 1e6 : unit == "us" ? 1e3 : unit == "s" ? 1e9 : -1;
  if (scale < 0 || x * scale > 10e9) return -1;
  return static_cast<int64_t>(x * scale);
}

bool is_ipv4(const std::string& text) {
  in_addr a{};
  return ::inet_pton(AF_INET, text.c_str(), &a) == 1;
}

void enter_netns(const std::string& name) {
  const std::string path = "/run/netns/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(("open " + path).c_str());
  if (::setns(fd, CLONE_NEWNET) != 0) fail("setns");
  ::close(fd);
}

// /proc/sys/net resolves to the namespace of the task that opens it.
void write_sysctl(const std::string& path, const char* value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail(("open " + path).c_str());
  if (::write(fd, value, std::strlen(value)) < 0) fail(("write " + path).c_str());
  ::close(fd);
}

// In namespace `ns`: a TUN named `name` with local address `local` and
// point-to-point peer `peer` (which routes the peer's /32 into it), up, with
// reverse-path filtering off. Returns the non-blocking TUN descriptor; it
// keeps working after this thread moves to another namespace.
int open_tun(const std::string& ns, const std::string& name, const std::string& local, const std::string& peer) {
  enter_netns(ns);
  int tun = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (tun < 0) fail("open /dev/net/tun");
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (::ioctl(tun, TUNSETIFF, &ifr) != 0) fail("ioctl TUNSETIFF");
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // made in `ns`, so it configures `ns`
  if (s < 0) fail("socket");
  auto set_addr = [&](unsigned long req, const std::string& text, const char* call) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
    *sin = sockaddr_in{};
    sin->sin_family = AF_INET;
    ::inet_pton(AF_INET, text.c_str(), &sin->sin_addr);  // checked when parsed
    if (::ioctl(s, req, &ifr) != 0) fail(call);
  };
  set_addr(SIOCSIFADDR, local, "ioctl SIOCSIFADDR");
  set_addr(SIOCSIFDSTADDR, peer, "ioctl SIOCSIFDSTADDR");
  ifr.ifr_flags = IFF_UP | IFF_NOARP | IFF_MULTICAST;  // a TUN's flags plus up (the kernel keeps POINTOPOINT)
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fail("ioctl SIOCSIFFLAGS");
  ::close(s);
  for (const std::string& dev : {std::string("all"), std::string("default"), name})
    write_sysctl("/proc/sys/net/ipv4/conf/" + dev + "/rp_filter", "0");
  return tun;
}

void add_epoll(int ep, int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
}

const char* kHelp =
    "usage: delayline --delay D [--jitter J] [--distribution uniform|normal] [--loss P%] [--seed N]\n"
    "                 --server-ns NS --server-addr A --client NS=A [--client ...] [--queue N]\n"
    "  --delay D         one-way delay applied in each direction (5ms, 500us, 0.01s)\n"
    "  --jitter J        netem's `delay D J`: each packet's delay drawn around D (default 0)\n"
    "  --distribution S  uniform (default, as netem without one: D-J..D+J) or normal (mean D, deviation J)\n"
    "  --loss P%         netem's `loss random P%`: each packet dropped with probability P, in each direction\n"
    "  --seed N          seed of the random stream (default 1): the same seed, the same draws\n"
    "  --server-ns NS    the server's namespace (a name under /run/netns)\n"
    "  --server-addr A   the server's IPv4 address (the clients' point-to-point peer)\n"
    "  --client NS=A     a client namespace and its IPv4 address (repeatable)\n"
    "  --queue N         packets held per direction before drops (default 20000)\n"
    "Prints `ready` on stdout when routed; counters on stderr at SIGTERM/SIGINT\n"
    "(lost: the emulated loss; drops: a full queue or a failed write).\n";

}  // namespace

int main(int argc, char** argv) try {
  int64_t delay_ns = -1, jitter_ns = 0;
  Impairment::Shape shape = Impairment::Shape::kUniform;
  double loss = 0;
  unsigned long long seed = 1;
  long queue_cap = 20000;
  std::string server_ns, server_addr;
  std::vector<std::pair<std::string, std::string>> clients;
  for (int i = 1; i < argc; ++i) {
    std::string opt = argv[i];
    if (opt == "--help" || opt == "-h") { std::fputs(kHelp, stdout); return 0; }
    if (i + 1 >= argc) usage_error(opt, opt.rfind("--", 0) == 0 ? "needs a value" : "unknown argument");
    std::string v = argv[++i];
    if (opt == "--delay") {
      if ((delay_ns = parse_duration_ns(v)) < 0) usage_error(opt, "'" + v + "' is not a delay like 5ms (0..10s)");
    } else if (opt == "--jitter") {
      if ((jitter_ns = parse_duration_ns(v)) < 0) usage_error(opt, "'" + v + "' is not a time like 1ms (0..10s)");
    } else if (opt == "--distribution") {
      if (v == "uniform") shape = Impairment::Shape::kUniform;
      else if (v == "normal") shape = Impairment::Shape::kNormal;
      else usage_error(opt, "'" + v + "' is not uniform or normal (netem's pareto tables are not emulated)");
    } else if (opt == "--loss") {
      char* end = nullptr;
      loss = std::strtod(v.c_str(), &end) / 100;
      if (end == v.c_str() || std::string(end) != "%" || loss < 0 || loss > 1)
        usage_error(opt, "'" + v + "' is not a percentage like 0.1% (0..100%)");
    } else if (opt == "--seed") {
      char* end = nullptr;
      seed = std::strtoull(v.c_str(), &end, 10);
      if (*end || end == v.c_str() || v[0] == '-') usage_error(opt, "'" + v + "' is not a number >= 0");
    } else if (opt == "--queue") {
      char* end = nullptr;
      queue_cap = std::strtol(v.c_str(), &end, 10);
      if (*end || queue_cap < 1 || queue_cap > 1'000'000) usage_error(opt, "'" + v + "' is not 1..1000000");
    } else if (opt == "--server-ns") { server_ns = v;
    } else if (opt == "--server-addr") {
      if (!is_ipv4(v)) usage_error(opt, "'" + v + "' is not an IPv4 address");
      server_addr = v;
    } else if (opt == "--client") {
      size_t eq = v.find('=');
      if (eq == std::string::npos || eq == 0 || !is_ipv4(v.substr(eq + 1)))
        usage_error(opt, "'" + v + "' is not NS=IPV4");
      clients.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else { usage_error(opt, "unknown option"); }
  }
  if (delay_ns < 0) usage_error("--delay", "missing");
  if (server_ns.empty()) usage_error("--server-ns", "missing");
  if (server_addr.empty()) usage_error("--server-addr", "missing");
  if (clients.empty() || clients.size() > 200) usage_error("--client", "give 1..200");
  Impairment link(delay_ns, jitter_ns, shape, loss, seed);

  // Signals arrive through a signalfd, so the loop ends between packets.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (::sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) fail("sigprocmask");
  int sfd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC), ep = ::epoll_create1(EPOLL_CLOEXEC);
  int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (sfd < 0 || tfd < 0 || ep < 0) fail("signalfd/timerfd_create/epoll_create1");

  // Lanes 2i (client->server) and 2i+1 (server->client) share client i's TUNs.
  std::vector<Lane> lanes(2 * clients.size());
  for (size_t i = 0; i < clients.size(); ++i) {
    const auto& [ns, addr] = clients[i];
    int c = open_tun(ns, "dlc" + std::to_string(i), addr, server_addr);
    int s = open_tun(server_ns, "dls" + std::to_string(i), server_addr, addr);
    lanes[2 * i].in = c, lanes[2 * i].out = s;
    lanes[2 * i + 1].in = s, lanes[2 * i + 1].out = c;
    add_epoll(ep, c, 2 * i);
    add_epoll(ep, s, 2 * i + 1);
  }
  const uint64_t kTimerTag = lanes.size(), kSignalTag = lanes.size() + 1;
  add_epoll(ep, tfd, kTimerTag);
  add_epoll(ep, sfd, kSignalTag);
  std::printf("ready\n");
  std::fflush(stdout);

  std::vector<char> buf(65536);
  uint64_t armed = 0;  // the timerfd's current deadline, 0 = disarmed
  for (bool running = true; running;) {
    epoll_event events[64];
    int n = ::epoll_wait(ep, events, 64, -1);
    if (n < 0 && errno != EINTR) fail("epoll_wait");
    for (int k = 0; k < n; ++k) {
      uint64_t tag = events[k].data.u64;
      if (tag == kSignalTag) running = false;
      uint64_t ticks;
      if (tag == kTimerTag && ::read(tfd, &ticks, sizeof ticks) > 0) armed = 0;
      if (tag >= lanes.size()) continue;
      Lane& lane = lanes[tag];
      // Bounded per wakeup so one busy direction cannot starve the others.
      for (int burst = 0; burst < 256; ++burst) {
        ssize_t got = ::read(lane.in, buf.data(), buf.size());
        if (got <= 0) break;
        if (link.lose()) { ++lane.lost; continue; }
        if (lane.queue.size() >= static_cast<size_t>(queue_cap)) { ++lane.drops; continue; }
        lane.queue.push({now_ns() + link.delay_ns(), lane.serial++, std::string(buf.data(), static_cast<size_t>(got))});
        lane.max_queue = std::max<uint64_t>(lane.max_queue, lane.queue.size());
      }
    }
    // Release everything due, then arm the timer for the earliest head.
    uint64_t now = now_ns(), next = 0;
    for (Lane& lane : lanes) {
      while (!lane.queue.empty() && lane.queue.top().due_ns <= now) {
        const std::string& p = lane.queue.top().bytes;
        bool sent = ::write(lane.out, p.data(), p.size()) == static_cast<ssize_t>(p.size());
        sent ? (++lane.packets, lane.bytes += p.size()) : ++lane.drops;
        lane.queue.pop();
      }
      if (!lane.queue.empty() && (next == 0 || lane.queue.top().due_ns < next)) next = lane.queue.top().due_ns;
    }
    if (next != 0 && next != armed) {
      itimerspec its{};
      its.it_value.tv_sec = static_cast<time_t>(next / 1'000'000'000ull);
      its.it_value.tv_nsec = static_cast<long>(next % 1'000'000'000ull);
      if (::timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr) != 0) fail("timerfd_settime");
      armed = next;
    }
  }
  for (size_t i = 0; i < lanes.size(); ++i)
    std::fprintf(stderr, "delayline: client%zu %s packets=%llu bytes=%llu drops=%llu lost=%llu max_queue=%llu\n",
                 i / 2 + 1, i % 2 ? "s2c" : "c2s", (unsigned long long)lanes[i].packets,
                 (unsigned long long)lanes[i].bytes, (unsigned long long)lanes[i].drops,
                 (unsigned long long)lanes[i].lost, (unsigned long long)lanes[i].max_queue);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "delayline: %s\n", e.what());
  return 1;
}
