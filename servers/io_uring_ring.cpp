#include "servers/io_uring_ring.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>

#include "core/errno_class.h"
#include "core/fd.h"
#include "core/socket_util.h"
#include "servers/common/server_main.h"

namespace iomodels {
namespace {

int missing(ServerContext& ctx, const std::string& what) {
  ctx.log("missing feature: " + what);
  return 2;
}

unsigned setup_flags(RingSetup s) {
  switch (s) {
    case RingSetup::kDefer: return IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    case RingSetup::kCoop: return IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    case RingSetup::kPlain: break;
  }
  return 0;
}

// Both models keep their listener O_NONBLOCK (the spare-fd shed must never
// block). Some kernels then complete an io_uring accept at once with -EAGAIN
// instead of waiting for a connection: the model would re-arm it forever, a
// busy loop. Ask the kernel on a private empty listener: nothing may complete.
bool accept_waits_on_nonblocking_listener(io_uring& ring) {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!l || ::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l.get(), 1) != 0)
    throw std::system_error(errno, std::generic_category(), "socket/bind/listen (accept probe)");
  constexpr uint64_t kProbe = 1, kCancel = 2;  // consumed here: the models never see them
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  io_uring_prep_accept(s, l.get(), nullptr, nullptr, 0);
  io_uring_sqe_set_data64(s, kProbe);
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec wait{0, 20'000'000};
  int r = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &wait, nullptr);
  if (r >= 0 && cqe) {  // completed with no connection there: the kernel does not wait
    io_uring_cqe_seen(&ring, cqe);
    return false;
  }
  s = io_uring_get_sqe(&ring);
  io_uring_prep_cancel64(s, kProbe, 0);
  io_uring_sqe_set_data64(s, kCancel);
  io_uring_submit(&ring);
  for (int left = 2; left > 0;) {  // the accept's -ECANCELED and the cancel's own
    __kernel_timespec second{1, 0};
    if (io_uring_wait_cqe_timeout(&ring, &cqe, &second) != 0) break;
    io_uring_cqe_seen(&ring, cqe);
    --left;
  }
  return true;
}

}  // namespace

int init_ring(io_uring& ring, const RingRequest& req, ServerContext& ctx, RingSetup& got) {
  io_uring_params p{};
  got = req.setup;
  auto create = [&](RingSetup s) {
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | setup_flags(s);
    p.cq_entries = req.cq_entries;
    if (req.sqpoll) p.flags |= IORING_SETUP_SQPOLL, p.sq_thread_idle = 1000;
    return io_uring_queue_init_params(req.sq_entries, &ring, &p);
  };
  int r = create_with_fallback(got, req.sqpoll, create, [&](RingSetup from, RingSetup to) {
    ctx.log(from == RingSetup::kDefer ? "IORING_SETUP_DEFER_TASKRUN refused (Linux >= 6.1): falling back to coop"
                                      : "IORING_SETUP_COOP_TASKRUN refused (Linux >= 5.19): falling back to plain");
    ctx.stats.extra["setup_fallback_" + ring_setup_names()[size_t(to)]] = 1;
  });
  if (r < 0) {
    std::string what = req.sqpoll ? "io_uring_setup(SQPOLL)" : "io_uring_setup";
    if (got != RingSetup::kPlain) what += got == RingSetup::kDefer ? "(DEFER_TASKRUN, Linux >= 6.1)" : "(COOP_TASKRUN, Linux >= 5.19)";
    return missing(ctx, describe_errno(what.c_str(), -r) + " (is kernel.io_uring_disabled set?)");
  }
  bool ok = false;
  struct Exit {
    io_uring& ring;
    bool& ok;
    ~Exit() { if (!ok) io_uring_queue_exit(&ring); }
  } exit_unless_ok{ring, ok};
  // Without FAST_POLL a recv on an empty socket blocks an io-wq kernel thread:
  // a thread pool under the io_uring name. Without NODROP completions are lost.
  if (!(p.features & IORING_FEAT_FAST_POLL)) return missing(ctx, "IORING_FEAT_FAST_POLL (Linux >= 5.7)");
  if (!(p.features & IORING_FEAT_NODROP)) return missing(ctx, "IORING_FEAT_NODROP (Linux >= 5.5)");
  std::unique_ptr<io_uring_probe, void (*)(io_uring_probe*)> probe(io_uring_get_probe_ring(&ring), io_uring_free_probe);
  for (auto [op, name] : req.ops)
    if (!probe || !io_uring_opcode_supported(probe.get(), op)) return missing(ctx, std::string("IORING_OP_") + name);
  if (!accept_waits_on_nonblocking_listener(ring))
    return missing(ctx, "an accept that waits on an O_NONBLOCK listener (this kernel completes it with -EAGAIN)");
  if (req.register_ring_fd && io_uring_register_ring_fd(&ring) < 0)  // Linux >= 5.18; an optimisation only
    ctx.log("io_uring_register_ring_fd refused: entering through the plain ring fd");
  ok = true;
  return 0;
}

unsigned take_cqes(io_uring& ring, io_uring_cqe* out, unsigned max) {
  unsigned head, n = 0, seen = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring, head, cqe) {
    if (n == max) break;
    ++seen;
    // Kernels without IORING_FEAT_EXT_ARG (< 5.11): liburing's wait timeout
    // is an SQE of its own, and its CQE is liburing's, not ours.
    if (cqe->user_data != LIBURING_UDATA_TIMEOUT) out[n++] = *cqe;
  }
  io_uring_cq_advance(&ring, seen);
  return n;
}

}  // namespace iomodels
