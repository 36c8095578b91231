#include "loadgen/window.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/clock.h"
#include "core/fd.h"
#include "loadgen/connector.h"

namespace iomodels::loadgen {

void Notifier::line(const char* what, uint64_t ns) {
  if (fd_ < 0) return;
  char b[64];
  int n = std::snprintf(b, sizeof b, "%s %llu\n", what, static_cast<unsigned long long>(ns));
  const char* p = b;
  size_t left = static_cast<size_t>(n);
  while (left > 0) {
    ssize_t w = ::write(fd_, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (!warned_) std::fprintf(stderr, "loadgen: --notify-fd %d: write failed: %s\n", fd_, std::strerror(errno));
      warned_ = true;
      return;
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
}

namespace {

// Does a listener bound to `bound` (family `fam`) take connections to `target`?
// A wildcard listener takes them only when the target is this host, and
// loopback is the case we can tell for sure; an IPv6 wildcard on a dual-stack
// socket takes IPv4 connections too.
bool listener_serves(int fam, const uint32_t bound[4], const Endpoint& target) {
  const bool local = target.is_loopback();
  if (fam == AF_INET) {
    if (target.family() != AF_INET) return false;
    uint32_t want = reinterpret_cast<const sockaddr_in*>(target.addr())->sin_addr.s_addr;
    return bound[0] == want || (bound[0] == htonl(INADDR_ANY) && local);
  }
  static const uint32_t kAny[4] = {0, 0, 0, 0};
  if (std::memcmp(bound, kAny, 16) == 0) return local;
  if (target.family() != AF_INET6) return false;
  return std::memcmp(bound, &reinterpret_cast<const sockaddr_in6*>(target.addr())->sin6_addr, 16) == 0;
}

// Adds up the accept queues of the TCP listeners of family `fam` that serve
// `target`; false when the kernel would not tell.
bool add_accept_queues(int fam, const Endpoint& target, bool& found, uint64_t& queued) {
  Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return false;
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = static_cast<uint8_t>(fam);
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = 1u << TCP_LISTEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return false;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) return false;
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(m->id.idiag_sport) != target.port()) continue;
      if (listener_serves(fam, m->id.idiag_src, target)) {
        found = true;
        queued += m->idiag_rqueue;  // for a listener: connections not yet accepted
      }
    }
  }
}

}  // namespace

std::optional<uint64_t> accept_queue_length(const Endpoint& target) {
  bool found = false;
  uint64_t queued = 0;
  if (!add_accept_queues(AF_INET, target, found, queued)) return std::nullopt;
  if (!add_accept_queues(AF_INET6, target, found, queued)) return std::nullopt;
  return found ? std::optional<uint64_t>(queued) : std::nullopt;
}

std::string settle_accept_queue(const Endpoint& target, uint64_t deadline_ns) {
  for (;;) {
    std::optional<uint64_t> q = accept_queue_length(target);
    if (!q) return "not_visible";
    if (*q == 0) return "empty";
    if (now_ns() >= deadline_ns) return "timeout";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace iomodels::loadgen
