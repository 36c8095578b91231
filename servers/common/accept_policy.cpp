#include "servers/common/accept_policy.h"

#include <unistd.h>

#include "core/errno_class.h"
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

bool admit_accepted(int fd, size_t live, ServerStats& stats, const ServerContext& ctx) {
  ++stats.accepted;
  if (live >= ctx.opt.max_connections) {
    stats.count(Syscall::kClose);
    ::close(fd);
    ++stats.rejected;
    return false;
  }
  set_nodelay(fd);
  return true;
}

}  // namespace iomodels
