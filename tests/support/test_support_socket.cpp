// Client-side helpers of test_support.h: sockets with deadlines, and test data.
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

#include "core/socket_util.h"
#include "tests/support/test_support_poll.h"

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;


}  // namespace

namespace detail {

int ms_left(Clock::time_point end) {
  auto left = std::chrono::duration_cast<milliseconds>(end - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// poll one fd for `events` until `end`; EINTR retried. Returns revents, 0 on timeout.
short poll_one(int fd, short events, Clock::time_point end) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, ms_left(end));
    if (n > 0) return p.revents;
    if (n == 0) return 0;
    if (errno != EINTR) return POLLERR;
  }
}

std::string errno_text(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

}  // namespace detail

using detail::errno_text;
using detail::poll_one;

// ---- client sockets ----------------------------------------------------------------

Fd connect_to(uint16_t port, const ConnectOptions& opt) {
  const std::string where = opt.host + ":" + std::to_string(port);
  Endpoint sa = parse_endpoint(where);
  Fd fd(::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error(errno_text("socket"));
  timeval tv{};
  tv.tv_sec = opt.io_timeout.count() / 1000;
  tv.tv_usec = (opt.io_timeout.count() % 1000) * 1000;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (opt.rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf, sizeof opt.rcvbuf);
  if (opt.sndbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &opt.sndbuf, sizeof opt.sndbuf);
  int one = 1;
  if (opt.nodelay) ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), sa.addr(), sa.len) != 0)
    throw std::runtime_error(errno_text("connect") + " (" + where + ")");
  return fd;
}

bool ipv6_loopback_missing() {
  Fd s(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return true;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
}

bool send_all(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) { off += size_t(n); continue; }
    if (n < 0 && errno == EINTR) continue;
    return false;  // error, or SO_SNDTIMEO expired (EAGAIN)
  }
  return true;
}

std::string recv_exact(int fd, size_t n, milliseconds deadline) {
  std::string out;
  auto end = Clock::now() + deadline;
  char buf[65536];
  while (out.size() < n) {
    if (poll_one(fd, POLLIN, end) == 0) break;
    ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), MSG_DONTWAIT);
    if (r > 0) { out.append(buf, size_t(r)); continue; }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    break;
  }
  return out;
}

std::string recv_until(int fd, std::string_view terminator, milliseconds deadline) {
  std::string out;
  auto end = Clock::now() + deadline;
  char buf[65536];
  for (;;) {
    if (poll_one(fd, POLLIN, end) == 0) break;
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      size_t from = out.size() >= terminator.size() ? out.size() - terminator.size() + 1 : 0;
      out.append(buf, size_t(r));
      if (out.find(terminator, from) != std::string::npos) break;
      continue;
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    break;
  }
  return out;
}

bool data_within(int fd, milliseconds wait) {
  if (poll_one(fd, POLLIN, Clock::now() + wait) == 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

ExchangeResult exchange(int fd, std::string_view data, size_t expect, milliseconds deadline,
                        bool shut_wr) {
  ExchangeResult res;
  auto end = Clock::now() + deadline;
  constexpr size_t kChunk = 256 * 1024;
  std::vector<char> buf(kChunk);
  bool shut = false;
  res.received.reserve(expect);
  for (;;) {
    bool sending = res.sent < data.size() && !res.send_failed;
    if (!sending && shut_wr && !shut) {
      ::shutdown(fd, SHUT_WR);
      shut = true;
    }
    if (!sending && res.received.size() >= expect) break;
    short ev = poll_one(fd, POLLIN | (sending ? POLLOUT : 0), end);
    if (ev == 0) { res.timed_out = true; break; }
    if (ev & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t r = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
      if (r > 0) res.received.append(buf.data(), size_t(r));
      else if (r == 0 || (errno != EINTR && errno != EAGAIN)) { res.eof = true; break; }
    }
    if (sending && (ev & POLLOUT)) {
      size_t len = std::min(kChunk, data.size() - res.sent);
      ssize_t w = ::send(fd, data.data() + res.sent, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w > 0) res.sent += size_t(w);
      else if (w < 0 && errno != EINTR && errno != EAGAIN) res.send_failed = true;
    }
  }
  return res;
}

size_t send_until_stalled(int fd, std::string_view data, milliseconds stall, milliseconds deadline) {
  size_t sent = 0;
  auto end = Clock::now() + deadline;
  while (sent < data.size() && Clock::now() < end) {
    auto wait_end = std::min(end, Clock::now() + stall);
    if (poll_one(fd, POLLOUT, wait_end) == 0) break;  // no room for `stall`: the peer stopped reading
    ssize_t w = ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) sent += size_t(w);
    else if (w < 0 && errno != EINTR && errno != EAGAIN) break;
  }
  return sent;
}

const char* peer_end_name(PeerEnd e) {
  switch (e) {
    case PeerEnd::kClosed: return "closed";
    case PeerEnd::kReset: return "reset";
    case PeerEnd::kOpen: return "still open";
  }
  return "?";
}

PeerEnd wait_peer_end(int fd, milliseconds deadline, std::string* drained) {
  auto end = Clock::now() + deadline;
  char buf[65536];
  for (;;) {
    if (poll_one(fd, POLLIN, end) == 0) return PeerEnd::kOpen;
    ssize_t r = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (r > 0) {
      if (drained) drained->append(buf, size_t(r));
      continue;
    }
    if (r == 0) return PeerEnd::kClosed;
    if (errno == EINTR || errno == EAGAIN) continue;
    return PeerEnd::kReset;  // ECONNRESET, or any error: the connection is gone
  }
}

void reset_connection(Fd& fd) {
  linger l{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  fd.reset();
}

// ---- data ------------------------------------------------------------------------------

std::string pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  for (size_t i = 0; i < n; i += 8) {
    x ^= x << 13;  // xorshift64: cheap, and every 8-byte word differs
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(s.data() + i, &x, std::min<size_t>(8, n - i));
  }
  return s;
}

std::string frame_header(uint32_t length) {
  uint32_t be = htonl(length);
  return std::string(reinterpret_cast<const char*>(&be), 4);
}

std::string frame(std::string_view body) {
  return frame_header(static_cast<uint32_t>(body.size())) + std::string(body);
}

size_t first_mismatch(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return i;
  return a.size() == b.size() ? std::string_view::npos : n;
}

uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

}  // namespace iomodels::test
