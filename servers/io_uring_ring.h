// What io_uring and io_uring_multishot share around their loops: creating the
// ring with the chosen task-running setup, refusing kernels that would turn
// the model into a different one, and taking completions off the CQ safely.
// The submit/wait calls and every SQE stay in each model's own file.
//
// Setups (--setup): `defer` = SINGLE_ISSUER|DEFER_TASKRUN (Linux >= 6.1), what
// liburing's maintainers recommend for one thread that owns its ring:
// completions run only inside our own io_uring_enter(GETEVENTS), in a batch,
// never as task work that interrupts us between syscalls. A kernel that
// refuses it gets `coop` (COOP_TASKRUN|TASKRUN_FLAG, Linux >= 5.19), and one
// that refuses that too gets `plain` (ring_setup.h), logged and counted in
// stats (extra.setup_fallback_coop, setup_fallback_plain). `plain` = no flags: each
// completion is task work that IPIs/interrupts the thread, the historical
// default, kept because its cost is part of the lesson.
// Measured (lab/io_uring_setups_and_peer.sh: 2-vCPU VM, quiet, server cpu0, loadgen
// cpu1, echo 64 B, 3 interleaved rounds of 2 s, req/s ratio to epoll_lt at
// c16 | c64 | c64 p16 | c256):
//   io_uring  defer 1.14 | 0.99 | 1.11 | 1.14, plain 0.59 | 0.78 | 0.70 | 0.80
//             (server CPU 5.6 vs 9.6 µs/req at c16);
//   multishot defer 1.00 | 1.06 | 1.11 | 1.21, plain 0.64 | 0.73 | 0.64 | 0.65,
//             coop 1.04 | 0.93 | 0.98 | 0.96;
//   liburing's examples/echo-server (defer, multishot, buffer ring)
//             0.96 | 1.06 | 1.01 | 1.01.
// - Registered ring fd: kept (it cannot cost anything), but no consistent gain:
//   io_uring without it 1.00 | 1.01 | 1.01 | 1.14, multishot 1.01 | 1.00 | 1.01
//   | 1.16: within the round-to-round spread of the rows above.
// - Batching a turn's sends: already the shape of both loops: every SQE a turn
//   prepares goes to the kernel in the one io_uring_submit_and_wait that also
//   waits (0.26 enters per message at c16, 0.02 at c64 p16).
// - Direct (registered) descriptors: not tried. TCP_NODELAY on a direct
//   descriptor needs the setsockopt uring_cmd (Linux 6.7, liburing 2.5), and
//   Debian 12's liburing is 2.3; registering a normal fd costs a syscall per accept.
// - Recv/send bundles (Linux 6.10): not tried: liburing 2.3 has no API for
//   them, and at 64 B a whole pipeline burst (16 x 64 B) fits one 4 KiB ring
//   buffer, so a bundle would carry one buffer.
#pragma once
#include <liburing.h>

#include <cstdint>
#include <initializer_list>
#include <vector>
#include <string>
#include <utility>

#include "servers/ring_setup.h"

namespace iomodels {

class ServerContext;


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
// actually used (defer may fall back to coop or plain, said in the log and the stats).
int init_ring(io_uring& ring, const RingRequest& req, ServerContext& ctx, RingSetup& got);

// Copies up to `max` CQEs out of the ring and marks them seen before any is
// handled: a handler may then submit (the CQ is never left unadvanced, which
// some kernels answer with -EBUSY) or free what a later CQE names. 0: none
// left (liburing's own timeout CQEs are consumed, never returned).
unsigned take_cqes(io_uring& ring, io_uring_cqe* out, unsigned max);

}  // namespace iomodels
