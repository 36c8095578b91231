#include "loadgen/connector.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "core/clock.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace iomodels::loadgen {

Connector::Connector(const Options& opt) : target_(opt.addr) {
  // Elsewhere we cannot know which sources are ours; IPv6 loopback is one address.
  if (!target_.is_loopback() || target_.family() != AF_INET) return;
  if (opt.source_addresses > 0) {
    sources_ = opt.source_addresses;
  } else if (opt.requests_per_connection > 0 ||
             opt.connections + opt.idle_connections > 10000) {
    // Churn leaves a TIME_WAIT per connection on our side and one source
    // address has ~28k ephemeral ports: spreading over 16 addresses gives
    // ~450k 4-tuples, past what any run here needs.
    sources_ = 16;
  }
}

int Connector::start(uint64_t serial) const noexcept {
  int fd = ::socket(target_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (sources_ > 0) {
    // Without IP_BIND_ADDRESS_NO_PORT, bind() would pick a port for the
    // address alone (unique per source), which runs out as fast as before;
    // with it the port is chosen at connect() per full 4-tuple.
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl((127u << 24) + 2 + static_cast<uint32_t>(serial % sources_));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
      int e = errno;
      ::close(fd);
      errno = e;
      return -1;
    }
  }
  int rc;
  do {
    rc = ::connect(fd, target_.addr(), target_.len);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

void close_socket(int fd, CloseMode mode) noexcept {
  if (fd < 0) return;
  if (mode == CloseMode::kRst) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd);
}

IdleSet open_idle_connections(const Options& opt, const Connector& c, int count,
                              double timeout_s) {
  IdleSet set;
  set.fds.reserve(static_cast<size_t>(count));
  constexpr int kBatch = 256;  // stays well under a default accept backlog
  std::vector<pollfd> pending;
  // Serials continue after the active connections' so sources interleave.
  uint64_t serial = static_cast<uint64_t>(opt.connections) * 1000003ull;
  for (int done = 0; done < count;) {
    int n = std::min(kBatch, count - done);
    pending.clear();
    for (int i = 0; i < n; ++i) {
      int fd = c.start(serial++);
      if (fd < 0) {
        ++set.failed;
        continue;
      }
      pending.push_back({fd, POLLOUT, 0});
    }
    uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_s * 1e9);
    size_t open = pending.size();
    while (open > 0) {
      uint64_t now = now_ns();
      if (now >= deadline) break;
      int rc = ::poll(pending.data(), pending.size(), static_cast<int>((deadline - now) / 1000000 + 1));
      if (rc < 0 && errno != EINTR) break;
      for (auto& p : pending) {
        if (p.fd < 0 || p.revents == 0) continue;
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0 && !(p.revents & (POLLERR | POLLHUP))) {
          set.fds.emplace_back(p.fd);
        } else {
          ::close(p.fd);
          ++set.failed;
        }
        p.fd = -p.fd - 1;  // poll ignores negative fds
        --open;
      }
    }
    for (auto& p : pending) {
      if (p.fd >= 0) {  // timed out
        ::close(p.fd);
        ++set.failed;
      }
    }
    done += n;
  }
  return set;
}

uint64_t count_closed(const IdleSet& idle) {
  uint64_t closed = 0;
  char b;
  for (const auto& fd : idle.fds) {
    ssize_t r = ::recv(fd.get(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) ++closed;
  }
  return closed;
}

}  // namespace iomodels::loadgen
