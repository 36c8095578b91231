// Socket setup helpers shared by every server and the loadgen. Setup failures
// throw std::system_error naming the call; none of these wait for readiness.
#pragma once
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "core/fd.h"

namespace iomodels {

// An IPv4 or IPv6 socket address, whichever the text named.
struct Endpoint {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family() const noexcept { return storage.ss_family; }
  const sockaddr* addr() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  uint16_t port() const noexcept;
  // 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address.
  bool is_loopback() const noexcept;
  // "127.0.0.1:7000" or "[::1]:7000" (brackets, so the port stays separable).
  std::string to_string() const;
};

// "ipv4" or "ipv6" (what run.json records), "unknown" otherwise.
const char* family_name(int family) noexcept;

// A host and a port to an Endpoint. The host is an IPv4 address, an IPv6
// address with or without [brackets], "localhost" (always 127.0.0.1, so a
// run's family never depends on /etc/hosts or gai.conf), or a name, resolved
// through getaddrinfo in either family (the first answer wins). Throws
// std::invalid_argument saying what is wrong.
Endpoint resolve_endpoint(const std::string& host, uint16_t port);

struct ListenerOptions {
  // loopback unless told otherwise; "::1" for IPv6, "::" for every address of
  // both families (dual-stack: IPV6_V6ONLY is cleared explicitly, whatever the
  // net.ipv6.bindv6only sysctl says).
  std::string bind = "127.0.0.1";
  uint16_t port = 0;               // 0: the kernel picks
  bool nonblocking = false;
  bool reuseport = false;          // SO_REUSEPORT, for one listener per thread
  int backlog = 4096;
};

// socket + SO_REUSEADDR (+ SO_REUSEPORT) + bind + listen.
Fd make_listener(const ListenerOptions& opt);
// The port a bound socket ended up on (for --port 0).
uint16_t local_port(int fd);
// "127.0.0.1:40123" or "[::1]:40123"
std::string local_address(int fd);
// AF_INET or AF_INET6: the family a socket was made in.
int socket_family(int fd);

void set_nonblocking(int fd, bool on = true);
void set_nodelay(int fd);
// Parse "HOST:PORT" or "[IPV6]:PORT" (HOST as resolve_endpoint takes it);
// throws std::invalid_argument.
Endpoint parse_endpoint(const std::string& host_port);
// Raise RLIMIT_NOFILE to the hard limit; returns the new soft limit.
uint64_t raise_nofile_limit();
// Open /dev/null on any of fds 0, 1, 2 that the parent left closed. Without it
// the first socket we make lands on fd 1 or 2 and log lines go to a client; and
// a slot below 3 breaks the EMFILE accounting (a CI runner that starts us with
// stdin closed did exactly that). Call first thing in main().
void keep_standard_fds_open();

// The spare-fd trick for EMFILE (libev / muduo): hold one fd open so that when
// accept fails with EMFILE we can free it, accept the pending connection, close
// it at once (the peer sees a clean close rather than a hang), and re-reserve.
// Without this a level-triggered loop spins on a listener that stays readable.
class SpareFd {
 public:
  SpareFd();
  // Call after accept failed with EMFILE/ENFILE. Returns true when a pending
  // connection was shed (count it as rejected); false when none was, and then
  // the caller pauses before accepting again (nothing pending, or the spare
  // itself had been lost and is only reopened now).
  bool shed_one(int listen_fd);

 private:
  Fd spare_;
};

}  // namespace iomodels
