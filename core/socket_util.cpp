#include "core/socket_util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace iomodels {
namespace {

[[noreturn]] void throw_errno(const std::string& what, int err = errno) {
  throw std::system_error(err, std::generic_category(), what);
}

// Only the literal forms: a numeric host never touches the resolver.
bool parse_numeric(const std::string& host, uint16_t port, Endpoint& out) {
  out = Endpoint{};
  std::string h = host == "localhost" ? "127.0.0.1" : host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  if (::inet_pton(AF_INET, h.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (::inet_pton(AF_INET6, h.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

Endpoint local_sockaddr(int fd) {
  Endpoint e;
  e.len = sizeof e.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&e.storage), &e.len) != 0) throw_errno("getsockname");
  return e;
}

}  // namespace

uint16_t Endpoint::port() const noexcept {
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
}

bool Endpoint::is_loopback() const noexcept {
  if (family() == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr) >> 24) == 127;
  if (family() != AF_INET6) return false;
  const in6_addr& a = reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr;
  return IN6_IS_ADDR_LOOPBACK(&a) || (IN6_IS_ADDR_V4MAPPED(&a) && a.s6_addr[12] == 127);
}

std::string Endpoint::to_string() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
  ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, host, sizeof host);
  return std::string(host) + ":" + std::to_string(port());
}

const char* family_name(int family) noexcept {
  return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "unknown";
}

Endpoint resolve_endpoint(const std::string& host, uint16_t port) {
  Endpoint e;
  if (host.empty()) throw std::invalid_argument("empty host");
  if (parse_numeric(host, port, e)) return e;
  if (host.front() == '[') throw std::invalid_argument("'" + host + "' is not an IPv6 address");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0 || found == nullptr)
    throw std::invalid_argument("cannot resolve '" + host + "': " + ::gai_strerror(rc));
  std::memcpy(&e.storage, found->ai_addr, found->ai_addrlen);
  e.len = found->ai_addrlen;
  ::freeaddrinfo(found);
  if (e.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&e.storage)->sin6_port = htons(port);
  else reinterpret_cast<sockaddr_in*>(&e.storage)->sin_port = htons(port);
  return e;
}

Fd make_listener(const ListenerOptions& opt) {
  Endpoint sa;
  try {
    sa = resolve_endpoint(opt.bind, opt.port);
  } catch (const std::invalid_argument& e) {
    throw std::system_error(EINVAL, std::generic_category(),
                            "bad bind address '" + opt.bind + "' (want an IPv4 or IPv6 address): " + e.what());
  }
  int flags = SOCK_STREAM | SOCK_CLOEXEC | (opt.nonblocking ? SOCK_NONBLOCK : 0);
  Fd fd(::socket(sa.family(), flags, 0));
  if (!fd) throw_errno("socket");
  int one = 1, zero = 0;
  // SO_REUSEADDR: a restarted server must not wait out TIME_WAIT on its port.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
    throw_errno("setsockopt(SO_REUSEADDR)");
  if (opt.reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    throw_errno("setsockopt(SO_REUSEPORT)");
  // "::" means both families here, not whatever net.ipv6.bindv6only defaults to.
  if (sa.family() == AF_INET6 && ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0)
    throw_errno("setsockopt(IPV6_V6ONLY)");
  if (::bind(fd.get(), sa.addr(), sa.len) != 0) throw_errno("bind " + sa.to_string());
  if (::listen(fd.get(), opt.backlog) != 0) throw_errno("listen");
  return fd;
}

uint16_t local_port(int fd) { return local_sockaddr(fd).port(); }

std::string local_address(int fd) { return local_sockaddr(fd).to_string(); }

int socket_family(int fd) { return local_sockaddr(fd).family(); }

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

Endpoint parse_endpoint(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    throw std::invalid_argument("endpoint '" + host_port +
                                "' is not HOST:PORT (e.g. 127.0.0.1:7000 or [::1]:7000)");
  }
  std::string host = host_port.substr(0, colon);
  // A bare IPv6 address has colons of its own: "::1:7000" is ambiguous.
  if (host.find(':') != std::string::npos && host.front() != '[') {
    throw std::invalid_argument("endpoint '" + host_port + "': write an IPv6 host in brackets, [::1]:7000");
  }
  const char* first = host_port.data() + colon + 1;
  const char* last = host_port.data() + host_port.size();
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || ptr != last || port == 0 || port > 65535) {
    throw std::invalid_argument("endpoint '" + host_port + "': port must be a number in 1..65535");
  }
  try {
    return resolve_endpoint(host, static_cast<uint16_t>(port));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("endpoint '" + host_port + "': " + e.what());
  }
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
