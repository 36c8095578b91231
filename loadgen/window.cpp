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

std::optional<uint64_t> accept_queue_length(const sockaddr_in& target) {
  Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return std::nullopt;
  struct {
    nlmsghdr nlh;
    inet_diag_req_v2 req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_INET;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = 1u << TCP_LISTEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0)
    return std::nullopt;
  // A listener on the wildcard address takes the target's connections only
  // when the target is this host; loopback is the case we can tell for sure.
  bool local = is_loopback(target);
  bool found = false;
  uint64_t queued = 0;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_DONE) return found ? std::optional<uint64_t>(queued) : std::nullopt;
      if (h->nlmsg_type == NLMSG_ERROR) return std::nullopt;
      const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (m->id.idiag_sport != target.sin_port) continue;
      uint32_t bound = m->id.idiag_src[0];
      if (bound == target.sin_addr.s_addr || (bound == htonl(INADDR_ANY) && local)) {
        found = true;
        queued += m->idiag_rqueue;  // for a listener: connections not yet accepted
      }
    }
  }
}

std::string settle_accept_queue(const sockaddr_in& target, uint64_t deadline_ns) {
  for (;;) {
    std::optional<uint64_t> q = accept_queue_length(target);
    if (!q) return "not_visible";
    if (*q == 0) return "empty";
    if (now_ns() >= deadline_ns) return "timeout";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace iomodels::loadgen
