#include "core/socket_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <system_error>

namespace iomodels {
namespace {

[[noreturn]] void throw_errno(const std::string& what, int err = errno) {
  throw std::system_error(err, std::generic_category(), what);
}

// "localhost" is the one name accepted: resolving names would drag in the
// resolver (and its files and sockets) for a project that only talks to loopback.
bool parse_ipv4(const std::string& host, in_addr& out) {
  const char* h = host == "localhost" ? "127.0.0.1" : host.c_str();
  return ::inet_pton(AF_INET, h, &out) == 1;
}

sockaddr_in local_sockaddr(int fd) {
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) throw_errno("getsockname");
  return sa;
}

}  // namespace

Fd make_listener(const ListenerOptions& opt) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(opt.port);
  if (!parse_ipv4(opt.bind, sa.sin_addr)) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "inet_pton: bad IPv4 bind address '" + opt.bind + "'");
  }
  int flags = SOCK_STREAM | SOCK_CLOEXEC | (opt.nonblocking ? SOCK_NONBLOCK : 0);
  Fd fd(::socket(AF_INET, flags, 0));
  if (!fd) throw_errno("socket");
  int one = 1;
  // SO_REUSEADDR: a restarted server must not wait out TIME_WAIT on its port.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    throw_errno("setsockopt(SO_REUSEADDR)");
  if (opt.reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw_errno("setsockopt(SO_REUSEPORT)");
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
    throw_errno("bind " + opt.bind + ":" + std::to_string(opt.port));
  if (::listen(fd.get(), opt.backlog) != 0) throw_errno("listen");
  return fd;
}

uint16_t local_port(int fd) { return ntohs(local_sockaddr(fd).sin_port); }

std::string local_address(int fd) {
  sockaddr_in sa = local_sockaddr(fd);
  char host[INET_ADDRSTRLEN];
  if (::inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host) == nullptr) throw_errno("inet_ntop");
  return std::string(host) + ":" + std::to_string(ntohs(sa.sin_port));
}

void set_nonblocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) throw_errno("fcntl(F_GETFL)");
  int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) != 0) throw_errno("fcntl(F_SETFL)");
}

void set_nodelay(int fd) {
  int one = 1;
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    throw_errno("setsockopt(TCP_NODELAY)");
}

sockaddr_in parse_endpoint(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    throw std::invalid_argument("endpoint '" + host_port +
                                "' is not HOST:PORT (e.g. 127.0.0.1:7000)");
  }
  std::string host = host_port.substr(0, colon);
  const char* first = host_port.data() + colon + 1;
  const char* last = host_port.data() + host_port.size();
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || ptr != last || port == 0 || port > 65535) {
    throw std::invalid_argument("endpoint '" + host_port + "': port must be a number in 1..65535");
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (!parse_ipv4(host, sa.sin_addr)) {
    throw std::invalid_argument("endpoint '" + host_port + "': host must be an IPv4 address or localhost");
  }
  return sa;
}

uint64_t raise_nofile_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) throw_errno("getrlimit(RLIMIT_NOFILE)");
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) != 0) throw_errno("setrlimit(RLIMIT_NOFILE)");
    rl = want;
  }
  return static_cast<uint64_t>(rl.rlim_cur);
}

void keep_standard_fds_open() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // open() returns the lowest free fd, which is this one (lower ones are open).
    int got = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (got >= 0 && got != fd) ::close(got);  // cannot happen; never leak it
  }
}

SpareFd::SpareFd() : spare_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {
  if (!spare_) throw_errno("open(/dev/null)");
}

// On a blocking listener the accept below waits for the next connection, which
// is then shed: acceptable, since the caller could not have served it either.
//
// A spare lost earlier (its reopen failed: the table was full, or the limit
// was lowered under us) is not closed-and-accepted: an accept that succeeded
// then would prove there was room, and shedding that peer would drop a
// connection we could serve. Reopening it is the cheaper test of room; either
// way nothing is shed now and the caller pauses before it accepts again.
bool SpareFd::shed_one(int listen_fd) {
  if (!spare_) {
    spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    return false;
  }
  spare_.reset();
  bool shed = false;
  int fd;
  do {
    fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd >= 0) {
    ::close(fd);
    shed = true;
  }
  // May fail if another thread took the slot; the next shed_one retries.
  spare_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  return shed;
}

}  // namespace iomodels
