// What every model does around its own accept4(2) call, so that the model
// keeps the syscall and the shared rules live in one place: sorting a failed
// accept (retry, backlog empty, EMFILE shed through the spare fd, unexpected),
// and admitting an accepted socket (the --max-connections cap, TCP_NODELAY).
#pragma once
#include <cstddef>

#include "core/socket_util.h"
#include "servers/common/server_stats.h"

namespace iomodels {

class ServerContext;

enum class AcceptFailure {
  kRetry,       // EINTR: call accept again now
  kEmpty,       // EAGAIN, or an unexpected error (logged, counted): stop accepting this turn
  kShed,        // out of fds: one pending connection was accepted and closed (counted rejected)
  kCannotShed,  // out of fds and nothing could be shed: back off, or a level-triggered loop spins
};

// errno saved right after accept4 failed on listen_fd.
AcceptFailure on_accept_failure(int err, int listen_fd, SpareFd& spare, ServerStats& stats,
                                const ServerContext& ctx);

// Count an accepted socket; over the cap (`live` = connections served now) it is
// closed and counted rejected (false). Otherwise TCP_NODELAY is set (true).
bool admit_accepted(int fd, size_t live, ServerStats& stats, const ServerContext& ctx);

}  // namespace iomodels
