// io_uring_multishot — multishot accept + multishot recv + provided buffer ring
// What the model is, its syscalls, needs and traps: docs/models.md, section io_uring_multishot.
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <unordered_set>
#include <vector>

#include "core/clock.h"
#include "core/errno_class.h"
#include "core/socket_util.h"
#include "servers/common/accept_policy.h"
#include "servers/common/connection.h"
#include "servers/common/server_main.h"
#include "servers/io_uring_ring.h"

namespace iomodels {
namespace {

constexpr unsigned kSqEntries = 1024, kCqEntries = 16384;  // CQ: a recv and a send per connection may land at once
constexpr int kGroup = 0;
constexpr unsigned kBatch = 256;  // CQEs copied out per take
enum Op : uint64_t { kIgnore = 0, kAccept = 1, kStop = 2, kBackoff = 3, kRecv = 4, kSend = 5, kMask = 7 };

struct Seg { uint32_t bid, off, len; };  // echo: part of a ring buffer still owed to the peer

struct alignas(8) Conn {
  explicit Conn(Connection conn) : c(std::move(conn)) {}
  Connection c;
  std::vector<Seg> segs;  // echo zero-copy: in order, segs[head] goes first
  size_t head = 0;
  Buffer wire;            // copied replies: what a send from c.out() points at
  int inflight = 0;
  bool send_seg = false;  // the send in flight is segs[head], not wire
  bool recv_armed = false, recv_cancelled = false, send_armed = false, dead = false, cancelled = false;
  bool waiting = false;    // in Loop::waiters
  bool throttled = false;  // was back-pressured: one-shot recvs from now on
  size_t held() const { return segs.size() - head; }
};

struct Loop {
  ServerContext& ctx;
  ServerStats& st;
  io_uring ring{};
  io_uring_buf_ring* br = nullptr;
  char* base = nullptr;
  unsigned nbufs = 0, bufsize = 0, free_bufs = 0, max_held = 1;
  bool echo = false, sqpoll = false;
  int missing = 0;  // a multishot op the kernel refused: exit 2
  std::unordered_set<Conn*> conns;
  std::deque<Conn*> waiters;  // -ENOBUFS: nothing armed until buffers return
  LingerQueue lingers;        // refused connections draining before close, by Conn*
  SpareFd spare;
  __kernel_timespec backoff{0, AcceptPause::kPauseNs};
  int inflight = 0;
  bool stopping = false;
  uint64_t enobufs = 0, rearms = 0, pauses = 0, sqe_send = 0, short_sends = 0, overflows = 0;

  static uint64_t tag(Conn& k, Op op) { return reinterpret_cast<uint64_t>(&k) | op; }
  io_uring_sqe* sqe(uint64_t data) {
    io_uring_sqe* s;
    while (!(s = io_uring_get_sqe(&ring))) {  // SQ full: hand the kernel what we have
      st.count(Syscall::kIoUringSubmit);
      int r = io_uring_submit(&ring);
      if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
        throw std::system_error(-r, std::generic_category(), "io_uring_submit");
      if (sqpoll) io_uring_sqring_wait(&ring);  // the SQ thread frees slots, not us
    }
    io_uring_sqe_set_data64(s, data);
    if (data != kIgnore) ++inflight;
    return s;
  }
  void give_back(unsigned bid) {
    io_uring_buf_ring_add(br, base + size_t(bid) * bufsize, bufsize, bid, io_uring_buf_ring_mask(nbufs), 0);
    io_uring_buf_ring_advance(br, 1);
    ++free_bufs;
  }
  void arm_stop() { io_uring_prep_poll_add(sqe(kStop), ctx.stop_fd, POLLIN); }
  void arm_accept() { io_uring_prep_multishot_accept(sqe(kAccept), ctx.listener.get(), nullptr, nullptr, SOCK_CLOEXEC); }
  void arm_recv(Conn& k) {
    io_uring_sqe* s = sqe(tag(k, kRecv));
    // A connection once back-pressured gets one-shot recvs: a multishot recv
    // keeps filling ring buffers from the socket until our cancel lands.
    if (k.throttled) io_uring_prep_recv(s, k.c.fd(), nullptr, 0, 0);
    else io_uring_prep_recv_multishot(s, k.c.fd(), nullptr, 0, 0);
    s->flags |= IOSQE_BUFFER_SELECT;  // the kernel picks a ring buffer per completion
    s->buf_group = kGroup;
    k.recv_armed = true;
    ++k.inflight;
    ++rearms;
  }
  void arm_send(Conn& k) {
    const char* p = k.wire.peek();
    size_t n = k.wire.readable_bytes();
    k.send_seg = k.held() > 0;  // segs are older than anything copied: they go first
    if (k.send_seg) p = base + size_t(k.segs[k.head].bid) * bufsize + k.segs[k.head].off, n = k.segs[k.head].len;
    io_uring_prep_send(sqe(tag(k, kSend)), k.c.fd(), p, n, MSG_NOSIGNAL);
    k.send_armed = true;
    ++k.inflight;
    ++sqe_send;
  }
  void cancel(uint64_t data) { io_uring_prep_cancel64(sqe(kIgnore), data, 0); }

  void on_accept(int res, bool more) {
    if (!more) --inflight;
    if (res == -EINVAL) missing = 1;  // multishot accept unknown to this kernel
    if (res >= 0) {
      if (stopping) {
        ++st.accepted;
        ::close(res);
        st.count(Syscall::kClose);
      } else if (admit_accepted(res, conns.size(), st, ctx)) {
        Conn* k = new Conn(Connection(Fd(res), ctx.new_session(), ctx.opt.out_buffer_cap));
        conns.insert(k);
        arm_recv(*k);
      }
    } else if (res != -ECANCELED) {
      ErrnoClass c = classify_errno(-res);
      bool shed = c == ErrnoClass::kNoResources && spare.shed_one(ctx.listener.get());
      if (c == ErrnoClass::kNoResources && !shed && !stopping && !more)  // EMFILE and no spare: no spinning
        return count_accept_pause(st), io_uring_prep_timeout(sqe(kBackoff), &backoff, 0, 0);
      if (shed) ++st.rejected;
      if (c == ErrnoClass::kUnexpected) ++st.unexpected_errors, ctx.log(describe_errno("accept", -res));
    }
    if (!more && !stopping && !missing) arm_accept();
  }

  // A failed op: true keeps the connection (progress re-arms it).
  bool keep_after(Conn& k, int err, const char* call) {
    if (err == ECANCELED) return !(stopping || k.dead);  // our back-pressure pause
    switch (classify_errno(err)) {
      case ErrnoClass::kInterrupted:
      case ErrnoClass::kWouldBlock: return true;
      case ErrnoClass::kPeerGone: ++st.peer_resets; return false;
      default: ++st.unexpected_errors; ctx.log(describe_errno(call, err)); return false;
    }
  }

  void on_recv(Conn& k, int res, unsigned flags) {
    bool ended = !(flags & IORING_CQE_F_MORE);
    if (ended) k.recv_armed = k.recv_cancelled = false, --k.inflight, --inflight;
    unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (flags & IORING_CQE_F_BUFFER) --free_bufs;
    // Zero-copy only while nothing copied is queued (order), the connection
    // holds few ring buffers and over half the ring is free: a send to a peer
    // that stopped reading pins its buffer, and pinned buffers must never
    // starve the others. Otherwise copy to the out buffer, and give back now.
    // Never once closing: a refused connection lingers (its write side is
    // shut), and what it still reads is discarded, not echoed.
    if (res > 0 && !k.dead && echo && k.held() < max_held && free_bufs * 2 > nbufs && k.wire.empty() &&
        k.c.out().empty() && k.c.wants_read() && !k.c.closing()) {  // wants_read: no input held back by the cap
      st.bytes_in += size_t(res);
      ++st.messages;
      k.segs.push_back({bid, 0, uint32_t(res)});  // the reply is this very buffer
      return;
    }
    if (res > 0 && !k.dead) k.c.on_received(base + size_t(bid) * bufsize, size_t(res), st);
    if (flags & IORING_CQE_F_BUFFER) give_back(bid);
    if (res == 0) k.c.on_peer_eof();
    else if (res == -ENOBUFS && ended && !k.dead) ++enobufs, k.waiting = true, waiters.push_back(&k);
    else if (res < 0 && !k.dead && !keep_after(k, -res, "recv")) k.dead = true;
  }

  void on_send(Conn& k, int res) {
    k.send_armed = false;
    if (res < 0) {
      if (!k.dead && !keep_after(k, -res, "send")) k.dead = true;
      return;  // kept: progress resubmits the same bytes
    }
    st.bytes_out += size_t(res);
    if (!k.send_seg) return k.wire.consume(size_t(res)), k.wire.shrink_if_idle();  // see io_uring.cpp
    Seg& s = k.segs[k.head];
    if (uint32_t(res) < s.len) return ++short_sends, s.off += res, s.len -= res, void();
    give_back(s.bid);  // its bytes are on the wire now: the kernel may reuse it
    if (++k.head == k.segs.size()) k.segs.clear(), k.head = 0;
  }

  // After every completion: start what the connection now wants, or retire it.
  void progress(Conn& k) {
    if (stopping) k.dead = true;
    if (!k.dead) {
      k.c.set_in_flight(k.wire.readable_bytes(), st);  // counts toward the cap; may serve held input
      if (!k.send_armed && k.held() == 0 && k.wire.empty() && k.c.wants_write()) std::swap(k.wire, k.c.out());
      if (!k.send_armed && (k.held() > 0 || !k.wire.empty())) arm_send(k);
      if (!k.send_armed && k.held() == 0 && k.wire.empty() && k.c.linger_due() &&
          !lingers.start(k.c, reinterpret_cast<uint64_t>(&k), st))  // FIN, then drain
        return k.dead = true, progress(k);
      bool want = k.c.wants_read();
      if (want && !k.recv_armed && !k.waiting) arm_recv(k);
      if (!want && k.recv_armed && !k.recv_cancelled && !k.throttled)
        ++pauses, k.throttled = k.recv_cancelled = true, cancel(tag(k, kRecv));
      if (k.c.finished() && k.held() == 0 && k.wire.empty() && !k.send_armed) k.dead = true;
    }
    if (!k.dead) return;
    if (k.inflight > 0 && !k.cancelled) {  // a recv (or a send to a stalled peer) may never end by itself
      k.cancelled = true;
      if (k.recv_armed && !k.recv_cancelled) cancel(tag(k, kRecv));
      if (k.send_armed) cancel(tag(k, kSend));
    }
    if (k.inflight > 0) return;
    for (size_t i = k.head; i < k.segs.size(); ++i) give_back(k.segs[i].bid);
    if (k.waiting) waiters.erase(std::find(waiters.begin(), waiters.end(), &k));
    conns.erase(&k);
    delete &k;
    st.count(Syscall::kClose);
    ++st.closed;
  }

  void dispatch(const io_uring_cqe& cqe) {
    ++st.events;
    Op op = Op(cqe.user_data & kMask);
    if (op == kIgnore) return;
    if (op == kAccept) return on_accept(cqe.res, cqe.flags & IORING_CQE_F_MORE);
    if (op != kRecv) --inflight;  // a multishot recv counts its own end
    if (op == kBackoff) return stopping ? void() : arm_accept();
    if (op == kStop) return ctx.stop_requested() ? begin_stop() : arm_stop();
    // Only recv and send name a connection (the others carry no pointer).
    Conn& k = *reinterpret_cast<Conn*>(cqe.user_data & ~uint64_t(kMask));
    if (op == kRecv) return on_recv(k, cqe.res, cqe.flags), progress(k);
    --k.inflight;
    on_send(k, cqe.res);
    progress(k);
  }

  // A connection in `waiters` has nothing in flight, so only we can wake it:
  // one per buffer back in the ring; those that lose the race wait again.
  void rearm_waiters() {
    size_t budget = free_bufs;
    while (budget > 0 && !waiters.empty() && !stopping) {
      Conn* k = waiters.front();  // oldest first: nobody starves
      waiters.pop_front();
      k->waiting = false;
      --budget;      // counted before progress, which may retire (free) the connection
      progress(*k);  // back-pressured ones are re-armed by their send instead
    }
  }

  void begin_stop() {
    stopping = true;
    cancel(kAccept);
    cancel(kBackoff);
    std::vector<Conn*> all(conns.begin(), conns.end());
    for (Conn* k : all) progress(*k);
  }

  void run() {
    arm_accept();
    arm_stop();
    uint64_t deadline = 0;
    const uint64_t exit_after = uint64_t(ctx.opt.extra_int("exit-after-bytes"));
    io_uring_cqe batch[kBatch];
    while ((!stopping || inflight > 0) && !missing) {
      if (stopping && deadline == 0) deadline = now_ns() + 500'000'000;
      if (deadline && now_ns() > deadline) return ctx.log("stop: ops still in flight after 500 ms");
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
        for (unsigned i = 0; i < n; ++i) dispatch(batch[i]);
      rearm_waiters();
      auto at = [](uint64_t key) { return reinterpret_cast<Conn*>(key); };
      if (!lingers.empty())  // past its deadline: retire it (cancels its recv)
        lingers.expire(now_ns(), [&](uint64_t key) { return conns.count(at(key)) ? &at(key)->c : nullptr; },
                       [&](uint64_t key) { at(key)->dead = true, progress(*at(key)); });
      if (exit_after && st.bytes_out >= exit_after && !stopping) begin_stop();
      if (io_uring_cq_has_overflow(&ring)) {  // NODROP backlog: one enter flushes it
        ++overflows;
        st.count(Syscall::kIoUringEnter);
        io_uring_get_events(&ring);
      }
    }
  }
};

int fail(ServerContext& ctx, const std::string& what) {
  ctx.log("missing feature: " + what);
  return 2;
}

int serve(ServerContext& ctx) {
  const auto& x = ctx.opt.extra;
  set_nonblocking(ctx.listener.get());  // the spare-fd shed must never block
  Loop L{ctx, ctx.stats, {}, nullptr, nullptr, unsigned(x.at("buffers")), unsigned(x.at("buffer-size"))};
  L.echo = ctx.opt.protocol == Protocol::kEcho;
  L.max_held = std::clamp(L.nbufs / 8, 1u, 16u);
  L.sqpoll = x.at("sqpoll") != 0;
  const auto setup = RingSetup(x.at("setup"));
  if ((L.nbufs & (L.nbufs - 1)) != 0) return ctx.log("--buffers must be a power of 2"), 2;
  // The kernel allows no task-running flag with SQPOLL (its thread runs them).
  if (L.sqpoll && setup != RingSetup::kPlain) return ctx.log("--sqpoll 1 needs --setup plain"), 2;
  utsname u{};
  int major = 0, minor = 0;
  if (::uname(&u) == 0) std::sscanf(u.release, "%d.%d", &major, &minor);
  if (major < 6) return fail(ctx, "multishot recv (Linux >= 6.0; this is " + std::string(u.release) + ")");
  // The ring of buffer descriptors must be page-aligned: mmap gives that.
  size_t ring_bytes = L.nbufs * sizeof(io_uring_buf), pool_bytes = size_t(L.nbufs) * L.bufsize;
  // Populated now: the ring is a fixed cost, paid at start rather than under load.
  void* mem = ::mmap(nullptr, ring_bytes + pool_bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  std::unique_ptr<void, std::function<void(void*)>> unmap(mem, [&](void* m) { ::munmap(m, ring_bytes + pool_bytes); });
  RingRequest req{.setup = setup, .sq_entries = kSqEntries, .cq_entries = kCqEntries, .sqpoll = L.sqpoll,
                  .register_ring_fd = x.at("register-ring-fd") != 0,
                  .ops = {{IORING_OP_ACCEPT, "ACCEPT"}, {IORING_OP_RECV, "RECV"}, {IORING_OP_SEND, "SEND"},
                          {IORING_OP_POLL_ADD, "POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                          {IORING_OP_TIMEOUT, "TIMEOUT"}}};
  RingSetup got;
  if (int r = init_ring(L.ring, req, ctx, got); r != 0) return r;
  std::unique_ptr<io_uring, void (*)(io_uring*)> guard(&L.ring, io_uring_queue_exit);
  L.br = static_cast<io_uring_buf_ring*>(mem);
  L.base = static_cast<char*>(mem) + ring_bytes;
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(L.br);
  reg.ring_entries = L.nbufs;
  reg.bgid = kGroup;
  if (int r = io_uring_register_buf_ring(&L.ring, &reg, 0); r < 0)
    return fail(ctx, describe_errno("io_uring_register_buf_ring (Linux >= 5.19)", -r));
  io_uring_buf_ring_init(L.br);
  for (unsigned i = 0; i < L.nbufs; ++i) L.give_back(i);
  L.run();
  guard.reset();
  L.st.closed += L.conns.size();
  if (L.inflight > 0) {
    // The stop timed out with ops in the kernel: a recv may still land in a
    // ring buffer after the ring is gone, so close the sockets but leak the
    // pool and the Conns on purpose (the process is exiting anyway).
    ctx.log("stop: leaking the buffer pool and " + std::to_string(L.conns.size()) + " connections still named by the kernel");
    L.st.extra["stop_ops_abandoned"] = uint64_t(L.inflight);  // the give-up path, for the tests
    for (Conn* k : L.conns) k->c.owned_fd().reset();
    (void)unmap.release();
  } else {
    for (Conn* k : L.conns) delete k;
  }
  L.st.extra["setup_" + ring_setup_names()[size_t(got)]] = 1;
  if (L.missing) return fail(ctx, "multishot accept (Linux >= 5.19)");
  for (auto [name, v] : {std::pair{"enobufs", L.enobufs}, {"recv_arms", L.rearms}, {"backpressure_pauses", L.pauses},
                         {"sqe_send", L.sqe_send}, {"short_sends", L.short_sends}, {"cq_overflow_flushes", L.overflows}})
    L.st.extra[name] = v;
  return 0;
}

}  // namespace
}  // namespace iomodels

int main(int argc, char** argv) {
  using iomodels::ExtraOption;
  return iomodels::listed_server_main(
      argc, argv,
      {.serve = &iomodels::serve,
       .extra_options = {
           ExtraOption{"buffers", 32, "provided buffer ring entries (power of 2)", 1, 32768},
           ExtraOption{"buffer-size", 65536, "bytes per ring buffer", 64, 1 << 20},
           ExtraOption{"sqpoll", 0, "1: IORING_SETUP_SQPOLL (a kernel thread polls; burns a core until idle; needs --setup plain)", 0, 1},
           ExtraOption{"setup", 2, "ring setup: defer (SINGLE_ISSUER|DEFER_TASKRUN) | coop | plain", 0, 2,
                       iomodels::ring_setup_names()},
           ExtraOption{"register-ring-fd", 1, "1: io_uring_register_ring_fd (enter skips the fd lookup)", 0, 1},
           // Under valgrind a thread blocked in io_uring_enter keeps the signal
           // watcher from running, so SIGTERM never lands: callgrind runs stop this way.
           ExtraOption{"exit-after-bytes", 0, "stop by itself once this many reply bytes were sent (0: never)", 0,
                       INT64_MAX}}});
}
