// io_uring — liburing: accept, recv, send
// What the model is, its syscalls, needs and traps: docs/models.md, section io_uring.
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#include <memory>
#include <unordered_set>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/io_uring_ring.h"

namespace iomodels {
namespace {

constexpr unsigned kSqEntries = 1024;
// A recv and a send per connection can complete in one batch: a large CQ keeps
// overflow (the kernel's slow backlog list) off the normal path.
constexpr unsigned kCqEntries = 16384;
constexpr uint64_t kStopGraceNs = 500'000'000;
constexpr unsigned kBatch = 256;  // CQEs copied out per take

enum Op : uint64_t { kIgnore = 0, kAccept = 1, kStop = 2, kBackoff = 3, kRecv = 4, kSend = 5, kTagMask = 7 };

struct alignas(8) Conn {
  Conn(Connection conn, size_t recv_bytes) : c(std::move(conn)), in(new char[recv_bytes]) {}
  Connection c;
  Buffer wire;  // what the send in flight points at
  std::unique_ptr<char[]> in;  // --recv-bytes: the recv's own buffer, pinned while it is in flight
  int inflight = 0;  // ops in the kernel that reference this object
  bool recv_armed = false, send_armed = false, dead = false, cancelled = false;
};

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  io_uring ring{};
  std::unordered_set<Conn*> conns;
  SpareFd spare;
  __kernel_timespec backoff{0, AcceptPause::kPauseNs};
  int inflight = 0;  // every op, connection or not: the stop drains to zero
  LingerQueue lingers;  // refused connections draining before close, by Conn*
  bool stopping = false;
  size_t recv_bytes = 0;
  bool poll_first = false;
  uint64_t sqe_recv = 0, sqe_send = 0, short_sends = 0, cq_overflows = 0, retries = 0;

  static uint64_t tag(Conn& k, Op op) { return reinterpret_cast<uint64_t>(&k) | op; }

  io_uring_sqe* sqe(uint64_t data) {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    while (!s) {  // SQ full: hand the kernel what we have, then reuse the slots
      st.count(Syscall::kIoUringSubmit);
      int r = io_uring_submit(&ring);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
        throw std::system_error(-r, std::generic_category(), "io_uring_submit");
      if (r < 0) { st.count(Syscall::kIoUringEnter); io_uring_get_events(&ring); }
      s = io_uring_get_sqe(&ring);
    }
    io_uring_sqe_set_data64(s, data);
    if (data != kIgnore) ++inflight;
    return s;
  }

  // A poll, not a read: stop_fd is O_NONBLOCK, and a read SQE on it would
  // complete at once with -EAGAIN instead of waiting.
  void arm_stop() { io_uring_prep_poll_add(sqe(kStop), ctx.stop_fd, POLLIN); }
  void arm_accept() { io_uring_prep_accept(sqe(kAccept), ctx.listener.get(), nullptr, nullptr, SOCK_CLOEXEC); }
  void arm_recv(Conn& k) {
    io_uring_sqe* s = sqe(tag(k, kRecv));
    io_uring_prep_recv(s, k.c.fd(), k.in.get(), recv_bytes, 0);
    // POLL_FIRST: arm the poll at once instead of trying the (usually empty,
    // in request/response) socket first; a recv that finds no data is wasted.
    if (poll_first) s->ioprio |= IORING_RECVSEND_POLL_FIRST;
    k.recv_armed = true;
    ++k.inflight;
    ++sqe_recv;
  }
  void arm_send(Conn& k) {
    io_uring_prep_send(sqe(tag(k, kSend)), k.c.fd(), k.wire.peek(), k.wire.readable_bytes(), MSG_NOSIGNAL);
    k.send_armed = true;
    ++k.inflight;
    ++sqe_send;
  }
  void cancel(uint64_t data) { io_uring_prep_cancel64(sqe(kIgnore), data, 0); }

  void on_accept(int res) {
    if (res >= 0) {
      if (stopping) {
        ++st.accepted;
        ::close(res);
        st.count(Syscall::kClose);
      } else if (admit_accepted(res, conns.size(), st, ctx)) {
        Conn* k = new Conn(Connection(Fd(res), ctx.new_session(), ctx.opt.out_buffer_cap), recv_bytes);
        conns.insert(k);
        arm_recv(*k);
      }
    } else if (res != -ECANCELED) {
      int err = -res;
      ErrnoClass c = classify_errno(err);
      if (c == ErrnoClass::kNoResources) {
        // EMFILE: shed the pending peer with the spare fd; if even that fails,
        // wait before asking again, or the ring would spin on an instant error.
        if (spare.shed_one(ctx.listener.get())) ++st.rejected;
        else if (!stopping) return count_accept_pause(st), io_uring_prep_timeout(sqe(kBackoff), &backoff, 0, 0);
      } else if (c == ErrnoClass::kUnexpected) {
        ++st.unexpected_errors;
        ctx.log(describe_errno("accept", err));
      }
    }
    if (!stopping) arm_accept();
  }

  // A failed recv/send: true keeps the connection (the op is simply re-armed).
  bool keep_after(Conn& k, int err, const char* call) {
    if (err == ECANCELED) return !(stopping || k.dead) && (++retries, true);  // not ours: re-arm
    switch (classify_errno(err)) {
      case ErrnoClass::kInterrupted:
      case ErrnoClass::kWouldBlock: ++retries; return true;
      case ErrnoClass::kPeerGone: ++st.peer_resets; return false;
      case ErrnoClass::kNoResources: ++st.extra["enobufs_closed"]; return false;  // shed load, never spin
      default: ++st.unexpected_errors; ctx.log(describe_errno(call, err)); return false;
    }
  }

  void on_recv(Conn& k, int res) {
    k.recv_armed = false;
    if (res > 0) k.c.on_received(k.in.get(), size_t(res), st);
    else if (res == 0) k.c.on_peer_eof();
    else if (!k.dead && !keep_after(k, -res, "recv")) k.dead = true;
  }

  void on_send(Conn& k, int res) {
    k.send_armed = false;
    if (res < 0) {
      if (k.dead) return;
      if (keep_after(k, -res, "send")) arm_send(k);  // EAGAIN/EINTR: the same bytes again
      else k.dead = true;
      return;
    }
    st.bytes_out += size_t(res);
    k.wire.consume(size_t(res));
    k.wire.shrink_if_idle();  // a sent 1 MiB reply is not kept (the buffer budget cannot see wire)
    if (!k.wire.empty() && !k.dead) { ++short_sends; arm_send(k); }  // the remainder, in order
  }

  // After every completion: start what the connection now wants, or retire it.
  void progress(Conn& k) {
    if (stopping) k.dead = true;
    if (!k.dead) {
      k.c.set_in_flight(k.wire.readable_bytes(), st);  // counts toward the cap; may serve held input
      if (!k.send_armed && k.wire.empty() && k.c.wants_write()) {
        std::swap(k.wire, k.c.out());  // out gets wire's spare storage: no allocation
        arm_send(k);
      }
      if (k.wire.empty() && !k.send_armed && k.c.linger_due() &&
          !lingers.start(k.c, reinterpret_cast<uint64_t>(&k), st))  // FIN, then drain
        k.dead = true;
      if (!k.dead && !k.recv_armed && k.c.wants_read()) arm_recv(k);
      if (k.c.finished() && k.wire.empty() && !k.send_armed) k.dead = true;
    }
    if (!k.dead) return;
    if (k.inflight > 0) {
      if (!k.cancelled) {  // a recv may wait forever on a peer that says nothing
        k.cancelled = true;
        if (k.recv_armed) cancel(tag(k, kRecv));
        if (k.send_armed) cancel(tag(k, kSend));
      }
      return;
    }
    conns.erase(&k);
    delete &k;  // closes the fd: nothing in the kernel points at it any more
    st.count(Syscall::kClose);
    ++st.closed;
  }

  void dispatch(uint64_t data, int res) {
    ++st.events;
    Op op = Op(data & kTagMask);
    if (op == kIgnore) return;  // a cancel's own completion
    --inflight;
    if (op == kAccept) return on_accept(res);
    if (op == kBackoff) return stopping ? void() : arm_accept();
    if (op == kStop) return ctx.stop_requested() ? begin_stop() : arm_stop();
    Conn& k = *reinterpret_cast<Conn*>(data & ~uint64_t(kTagMask));
    --k.inflight;
    if (op == kRecv) on_recv(k, res);
    else on_send(k, res);
    progress(k);
  }

  // A lingering connection past its deadline: retire it (cancels its recv).
  void expire_lingers() {
    auto at = [](uint64_t key) { return reinterpret_cast<Conn*>(key); };
    lingers.expire(now_ns(), [&](uint64_t key) { return conns.count(at(key)) ? &at(key)->c : nullptr; },
                   [&](uint64_t key) { at(key)->dead = true, progress(*at(key)); });
  }

  void begin_stop() {
    stopping = true;
    cancel(kAccept);
    cancel(kBackoff);
    std::vector<Conn*> all(conns.begin(), conns.end());
    for (Conn* k : all) progress(*k);  // marks dead, cancels what is in flight
  }

  void run() {
    arm_accept();
    arm_stop();
    uint64_t deadline = 0;
    io_uring_cqe batch[kBatch];
    while (!stopping || inflight > 0) {
      if (stopping && deadline == 0) deadline = now_ns() + kStopGraceNs;
      if (deadline && now_ns() > deadline) {
        ctx.log("stop: " + std::to_string(inflight) + " ops still in flight after 500 ms");
        break;
      }
      st.count(Syscall::kIoUringEnter);
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec slice{0, 50'000'000};
      if (int ms = lingers.timeout_ms(); !stopping && ms >= 0) slice = {ms / 1000, (ms % 1000) * 1'000'000};
      // One enter submits the turn's SQEs (every send of the turn together)
      // and waits; with DEFER_TASKRUN it is also where completions are run.
      int r = stopping || !lingers.empty() ? io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &slice, nullptr)
                                           : io_uring_submit_and_wait(&ring, 1);
      if (r < 0 && r != -EINTR && r != -ETIME && r != -EAGAIN && r != -EBUSY)
        throw std::system_error(-r, std::generic_category(), "io_uring_enter");
      ++st.wakeups;
      for (unsigned n; (n = take_cqes(ring, batch, kBatch)) > 0;)
        for (unsigned i = 0; i < n; ++i) dispatch(batch[i].user_data, batch[i].res);
      // Completions the CQ had no room for wait in the kernel's overflow list
      // (IORING_FEAT_NODROP); flushing them is one more enter.
      if (io_uring_cq_has_overflow(&ring)) {
        ++cq_overflows;
        st.count(Syscall::kIoUringEnter);
        io_uring_get_events(&ring);
      }
      if (!lingers.empty()) expire_lingers();
    }
  }
};

int serve(ServerContext& ctx) {
  set_nonblocking(ctx.listener.get());  // the spare-fd shed must never block
  Loop loop{ctx, ctx.stats, {}, {}, {}};
  loop.recv_bytes = size_t(ctx.opt.extra_int("recv-bytes"));
  loop.poll_first = ctx.opt.extra_int("poll-first") != 0;
  RingRequest req{.setup = RingSetup(ctx.opt.extra_int("setup")),
                  .sq_entries = kSqEntries,
                  .cq_entries = kCqEntries,
                  .register_ring_fd = ctx.opt.extra_int("register-ring-fd") != 0,
                  .ops = {{IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_RECV, "RECV"}, {IORING_OP_SEND, "SEND"},
                          {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                          {IORING_OP_TIMEOUT, "TIMEOUT"}}};
  RingSetup got;
  if (int r = init_ring(loop.ring, req, ctx, got); r != 0) return r;
  loop.run();
  io_uring_queue_exit(&loop.ring);
  loop.st.closed += loop.conns.size();
  if (loop.inflight > 0) {
    // The stop timed out with ops in the kernel: a recv may still land in a
    // Conn's buffer after the ring is gone, so close the sockets but leak the
    // memory on purpose (the process is exiting anyway).
    ctx.log("stop: leaking " + std::to_string(loop.conns.size()) + " connections' buffers still named by the kernel");
    loop.st.extra["stop_ops_abandoned"] = uint64_t(loop.inflight);  // the give-up path, for the tests
    for (Conn* k : loop.conns) k->c.owned_fd().reset();
  } else {
    for (Conn* k : loop.conns) delete k;
  }
  loop.st.extra["setup_" + ring_setup_names()[size_t(got)]] = 1;
  loop.st.extra["sqe_recv"] = loop.sqe_recv;
  loop.st.extra["sqe_send"] = loop.sqe_send;
  loop.st.extra["short_sends"] = loop.short_sends;
  loop.st.extra["cq_overflow_flushes"] = loop.cq_overflows;
  loop.st.extra["retries"] = loop.retries;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  return iomodels::listed_server_main(
      argc, argv,
      {.serve = &iomodels::serve,
       .extra_options = {
           {"setup", 2, "ring setup: defer (SINGLE_ISSUER|DEFER_TASKRUN) | coop | plain", 0, 2,
            iomodels::ring_setup_names()},
           {"register-ring-fd", 1, "1: io_uring_register_ring_fd (enter skips the fd lookup)", 0, 1},
           {"recv-bytes", 65536, "bytes per recv (each connection's own buffer; was 16384)", 512, 1 << 20},
           {"poll-first", 0, "1: IORING_RECVSEND_POLL_FIRST on each recv (Linux >= 5.19)", 0, 1}}});
}
