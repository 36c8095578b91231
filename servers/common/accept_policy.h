// What every model does around its own accept4(2) call, so that the model
// keeps the syscall and the shared rules live in one place: sorting a failed
// accept (retry, backlog empty, EMFILE shed through the spare fd, unexpected),
// and admitting an accepted socket (the --max-connections cap, TCP_NODELAY).
#pragma once
#include <cstddef>
#include <cstdint>

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

// Out of fds with nothing to shed (ENFILE, ENOBUFS/ENOMEM, a spare fd that
// could not be reopened), the pending connection stays in the backlog and a
// level-triggered listener reports it again at once: a loop that keeps
// listening spins. The model stops watching its listener for kPauseNs (with
// its own call: EPOLL_CTL_MOD to no events, a zero poll/select interest,
// event_del...), bounds its wait by wait_ms(), and watches (or accepts) again
// once end_if_due() says so. Pauses are counted in extra["accept_pauses"].
class AcceptPause {
 public:
  static constexpr uint64_t kPauseNs = 10'000'000;  // 10 ms, as nginx's accept back-off

  // Starts a pause; false (nothing to do) when one is already running.
  bool begin(ServerStats& stats);
  bool active() const noexcept { return until_ns_ != 0; }
  // Nanoseconds left (0 when not paused or due).
  uint64_t ns_left() const noexcept;
  // Timeout for a wait call in ms: `otherwise` when not paused, else the time
  // left rounded up (at least 1, so a due pause never turns into a busy poll).
  int wait_ms(int otherwise = -1) const noexcept;
  // True once, when a running pause is over: watch the listener again.
  bool end_if_due() noexcept;

 private:
  uint64_t until_ns_ = 0;
};

// Counts one pause in extra["accept_pauses"] (begin() and the others call it;
// the io_uring models time theirs with a timeout SQE).
void count_accept_pause(ServerStats& stats);

// The same pause for a thread blocked in accept (blocking_threads, posix_aio),
// or a poll(2) refused with EINVAL for more pollfds than RLIMIT_NOFILE:
// it sleeps kPauseNs (counted as a nanosleep and in extra["accept_pauses"]).
void pause_blocking_accept(ServerStats& stats);

// Count an accepted socket; over the cap (`live` = connections served now) it is
// closed and counted rejected (false). Otherwise TCP_NODELAY is set (true); if
// that fails the socket is closed and counted (unexpected_errors, closed): false.
bool admit_accepted(int fd, size_t live, ServerStats& stats, const ServerContext& ctx);

}  // namespace iomodels
