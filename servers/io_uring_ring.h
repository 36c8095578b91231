// What io_uring and io_uring_multishot share around their loops: creating the
// ring with the chosen task-running setup, refusing kernels that would turn
// the model into a different one, and taking completions off the CQ safely.
// The submit/wait calls and every SQE stay in each model's own file.
//
// Setups (--setup): `defer` = SINGLE_ISSUER|DEFER_TASKRUN (Linux >= 6.1), what
// liburing's maintainers recommend for one thread that owns its ring:
// completions run only inside our own io_uring_enter(GETEVENTS), in a batch,
// never as task work that interrupts us between syscalls. A kernel that
// refuses it gets `coop` (COOP_TASKRUN|TASKRUN_FLAG, Linux >= 5.19), logged
// and counted in stats (extra.setup_fallback_coop). `plain` = no flags: each
// completion is task work that IPIs/interrupts the thread, the historical
// default, kept because its cost is part of the lesson.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <initializer_list>
#include <vector>
#include <string>
#include <utility>

namespace iomodels {

class ServerContext;

enum class RingSetup { kPlain = 0, kCoop = 1, kDefer = 2 };
inline const std::vector<std::string>& ring_setup_names() {
  static const std::vector<std::string> names = {"plain", "coop", "defer"};
  return names;
}

struct RingRequest {
  RingSetup setup = RingSetup::kDefer;
  unsigned sq_entries = 1024, cq_entries = 16384;
  bool sqpoll = false;          // IORING_SETUP_SQPOLL (multishot's --sqpoll)
  bool register_ring_fd = true; // io_uring_register_ring_fd: enter skips the fd lookup
  // Opcodes the model submits: a kernel without one is refused by name.
  std::initializer_list<std::pair<int, const char*>> ops;
};

// Creates `ring`. Returns 0, or 2 after logging "missing feature: ..." (the
// model then exits 2, never running as a different model). `got` is the setup
// actually used (defer may fall back to coop, said in the log and the stats).
int init_ring(io_uring& ring, const RingRequest& req, ServerContext& ctx, RingSetup& got);

// Copies up to `max` CQEs out of the ring and marks them seen before any is
// handled: a handler may then submit (the CQ is never left unadvanced, which
// some kernels answer with -EBUSY) or free what a later CQE names.
unsigned take_cqes(io_uring& ring, io_uring_cqe* out, unsigned max);

}  // namespace iomodels
