#include "servers/common/accept_policy.h"

#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/errno_class.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"

namespace iomodels {

AcceptFailure on_accept_failure(int err, int listen_fd, SpareFd& spare, ServerStats& stats,
                                const ServerContext& ctx) {
  switch (classify_errno(err)) {
    case ErrnoClass::kInterrupted:
      return AcceptFailure::kRetry;
    case ErrnoClass::kNoResources:
      // Without shedding, the pending connection would sit in the backlog and a
      // level-triggered listener would report it forever.
      if (!spare.shed_one(listen_fd)) return AcceptFailure::kCannotShed;
      ++stats.rejected;
      return AcceptFailure::kShed;
    case ErrnoClass::kUnexpected:
      ++stats.unexpected_errors;
      ctx.log(describe_errno("accept4", err));
      return AcceptFailure::kEmpty;
    default:  // EAGAIN: the backlog is empty; a peer gone before accept: nothing to do
      return AcceptFailure::kEmpty;
  }
}

bool AcceptPause::begin(ServerStats& stats) {
  if (active()) return false;
  until_ns_ = now_ns() + kPauseNs;
  count_accept_pause(stats);
  return true;
}

uint64_t AcceptPause::ns_left() const noexcept {
  if (!active()) return 0;
  uint64_t now = now_ns();
  return now >= until_ns_ ? 0 : until_ns_ - now;
}

int AcceptPause::wait_ms(int otherwise) const noexcept {
  if (!active()) return otherwise;
  return int(ns_left() / 1'000'000) + 1;
}

bool AcceptPause::end_if_due() noexcept {
  if (!active() || ns_left() > 0) return false;
  until_ns_ = 0;
  return true;
}

void count_accept_pause(ServerStats& stats) { ++stats.extra["accept_pauses"]; }

void pause_blocking_accept(ServerStats& stats) {
  count_accept_pause(stats);
  timespec ts{0, long(AcceptPause::kPauseNs)};
  stats.count(Syscall::kNanosleep);
  ::nanosleep(&ts, nullptr);  // EINTR only shortens the pause
}

bool admit_accepted(int fd, size_t live, ServerStats& stats, const ServerContext& ctx) {
  ++stats.accepted;
  if (live >= ctx.opt.max_connections) {
    stats.count(Syscall::kClose);
    ::close(fd);
    ++stats.rejected;
    return false;
  }
  try {
    set_nodelay(fd);
  } catch (const std::exception& e) {  // e.g. EINVAL once the peer is gone: this connection only
    count_connection_failure(e, stats, ctx);
    stats.count(Syscall::kClose);
    ::close(fd);
    ++stats.closed;
    return false;
  }
  return true;
}

}  // namespace iomodels
