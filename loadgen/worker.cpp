#include "loadgen/worker.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#include "core/clock.h"

namespace iomodels::loadgen {
namespace {

constexpr uint64_t kConnectRetryNs = 100'000'000;  // a refused connect must not spin
constexpr int kMaxEvents = 256;
constexpr size_t kScratch = 256 * 1024;

ErrorKind error_of_errno(int err) {
  return err == ETIMEDOUT ? ErrorKind::kTimeout : ErrorKind::kReset;
}

LostCause lost_cause_of(ErrorKind k) {
  switch (k) {
    case ErrorKind::kTimeout: return LostCause::kTimeout;
    case ErrorKind::kReset: return LostCause::kReset;
    case ErrorKind::kMismatch: return LostCause::kMismatch;
    default: return LostCause::kClosed;  // peer close (a connecting socket has nothing in flight)
  }
}

}  // namespace

Worker::Worker(WorkerPlan plan, WorkerProgress& progress, const std::atomic<bool>& stop)
    : plan_(std::move(plan)), opt_(*plan_.opt), progress_(progress), stop_(stop),
      scratch_(kScratch) {
  size_t cap = static_cast<size_t>(opt_.pipeline);
  conns_.reserve(plan_.slots.size());
  for (uint64_t slot : plan_.slots)
    conns_.emplace_back(slot, cap, SizePicker(opt_.size_min, opt_.size_max, opt_.seed, slot));
  touched_.reserve(conns_.size());
  touched_flag_.assign(conns_.size(), 0);
  outcomes_.reserve(4096);
  timeout_ns_ = static_cast<uint64_t>(opt_.timeout_s * 1e9);
  // Nothing is measured before the gate opens (wait_for_start sets the window).
  plan_.measure_start_ns = plan_.end_ns = UINT64_MAX;
  if (plan_.duration_ns > 0) {
    // Whole seconds of the window, allocated now rather than on the request path.
    auto secs = (plan_.duration_ns + 999'999'999) / 1'000'000'000;
    stats_.seconds.resize(std::max<uint64_t>(secs, 1));
  }
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

Worker::~Worker() {
  for (auto& c : conns_) drop_socket(c);
  if (epfd_ >= 0) ::close(epfd_);
}

void Worker::leave_gate() noexcept {
  if (left_gate_) return;
  left_gate_ = true;
  plan_.gate->connecting.fetch_sub(1);
  plan_.gate->connecting.notify_all();
}

// A request due inside the window goes out even when our loop reaches it a
// little after the window's end (late, like any late send, and measured from
// its intended time); one due after the end never does.
bool Worker::may_send(uint64_t intended, bool check_budget) const noexcept {
  if (!sending_ || intended >= plan_.end_ns) return false;
  return !check_budget || plan_.request_budget == 0 || intended < plan_.measure_start_ns ||
         budget_used_ < plan_.request_budget;
}

bool Worker::churn_allows(const ClientConn& c) const noexcept {
  return opt_.requests_per_connection == 0 || c.sent_on_socket < opt_.requests_per_connection;
}

void Worker::set_want_out(ClientConn& c, bool on) {
  if (c.want_out == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.u64 = static_cast<uint64_t>(&c - conns_.data());
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.want_out = on;
}

void Worker::drop_socket(ClientConn& c) {
  if (c.fd >= 0) ::close(c.fd);  // close(2) also removes it from the epoll set
  if (c.state == ConnState::kConnecting) --connecting_;
  c.fd = -1;
  c.state = ConnState::kDown;
  c.want_out = false;
  c.inflight.clear();
  c.stamped = 0;
  c.out.clear();
}

void Worker::open(ClientConn& c, uint64_t now) {
  if (!sending_) return;
  int fd = plan_.connector->start(serial_++ * 7919 + c.slot);  // spread sources across slots
  if (fd < 0) {
    count_error(ErrorKind::kConnect, now);
    c.state = ConnState::kDown;
    c.retry_at_ns = now + kConnectRetryNs;
    return;
  }
  c.fd = fd;
  c.state = ConnState::kConnecting;
  ++connecting_;
  c.connect_start_ns = now;
  ++c.incarnation;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT;  // writable = the connect finished (either way)
  ev.data.u64 = static_cast<uint64_t>(&c - conns_.data());
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
  c.want_out = true;
}

void Worker::on_connected(ClientConn& c, uint64_t now) {
  c.state = ConnState::kUp;
  --connecting_;
  ++stats_.conns.opened;
  if (measuring(now)) stats_.connect.record(now - c.connect_start_ns);
  c.session = make_client_session(opt_.protocol, c.payload_id());  // per connection, not per request
  c.session->set_outcome_log(&outcomes_);
  c.seq = c.sent_on_socket = c.replies_on_socket = 0;
  c.wire_built = c.wire_sent = 0;
  c.stamped = 0;
  c.inflight.clear();
  c.out.clear();
  set_want_out(c, false);
  refill(c, now);
}

void Worker::fail(ClientConn& c, ErrorKind kind, uint64_t now, bool count) {
  if (count) count_error(kind, now);
  lose_inflight(c, lost_cause_of(kind), now);
  if (kind == ErrorKind::kReset || kind == ErrorKind::kClosed) ++stats_.conns.closed_by_server;
  else if (c.state == ConnState::kUp) ++stats_.conns.closed_after_error;
  drop_socket(c);
  if (kind == ErrorKind::kConnect) c.retry_at_ns = now + kConnectRetryNs;
  else open(c, now);
}

void Worker::build(ClientConn& c, uint64_t intended) {
  size_t size = opt_.protocol == Protocol::kHttp ? 0 : c.size_picker.next();
  size_t before = c.out.readable_bytes();
  c.session->build_request(c.seq++, size, c.out);
  c.inflight.push({intended, 0, c.wire_built});
  c.wire_built += c.out.readable_bytes() - before;
  ++c.sent_on_socket;
  // Open loop reserved its budget when the request fell due (dispatch_due).
  if (!opt_.open_loop() && intended >= plan_.measure_start_ns) ++budget_used_;
}

void Worker::refill(ClientConn& c, uint64_t now) {
  if (c.state != ConnState::kUp || !started_) return;
  if (!opt_.open_loop()) {
    // Closed loop: a request is due the moment its place is free; `now` (when
    // this batch's replies were seen) is that moment, the send comes later.
    while (!c.inflight.full() && static_cast<int>(c.inflight.size()) < opt_.pipeline &&
           churn_allows(c) && may_send(now, true))
      build(c, now);
  } else {
    while (c.sent_k < c.due_k && !c.inflight.full() && churn_allows(c)) {
      uint64_t intended = schedule_.intended_ns(c.slot, c.sent_k);
      if (!may_send(intended, false)) break;
      build(c, intended);
      ++c.sent_k;
    }
  }
  flush(c);
}

void Worker::flush(ClientConn& c) {
  while (!c.out.empty()) {
    // The clock starts here, right before the send call that carries the
    // request, not when the batch that made it due was seen.
    uint64_t t = now_ns();
    ssize_t n = ::send(c.fd, c.out.peek(), c.out.readable_bytes(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      if (measuring(t)) stats_.bytes_sent += static_cast<uint64_t>(n);
      c.out.consume(static_cast<size_t>(n));
      c.wire_sent += static_cast<uint64_t>(n);
      stamp_sent(c, t);
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      set_want_out(c, true);  // the rest goes when the socket drains
      return;
    }
    fail(c, error_of_errno(err), t);
    return;
  }
  set_want_out(c, false);
}

void Worker::read_replies(ClientConn& c, uint64_t now) {
  for (;;) {
    ssize_t n = ::recv(c.fd, scratch_.data(), scratch_.size(), MSG_DONTWAIT);
    if (n > 0) {
      if (measuring(now)) stats_.bytes_received += static_cast<uint64_t>(n);
      outcomes_.clear();
      ReplyResult r = c.session->on_bytes({scratch_.data(), static_cast<size_t>(n)});
      for (uint64_t i = 0; i < r.completed && c.inflight.size() > 0; ++i) {
        record_reply(c.inflight.front(), i < outcomes_.size() ? outcomes_[i] : ReplyOutcome::kOk, now);
        c.inflight.pop();
        if (c.stamped > 0) --c.stamped;
      }
      c.replies_on_socket += r.completed;
      for (uint64_t i = 0; i < r.mismatches; ++i) count_error(ErrorKind::kMismatch, now);
      for (uint64_t i = 0; i < r.http_status; ++i) count_error(ErrorKind::kHttpStatus, now);
      if (r.fatal) {
        // An unparseable stream is one mismatch even when no reply completed.
        fail(c, ErrorKind::kMismatch, now, r.mismatches == 0);
        return;
      }
      if (static_cast<size_t>(n) < scratch_.size()) break;
      continue;
    }
    if (n == 0) {
      fail(c, ErrorKind::kClosed, now);
      return;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) break;
    fail(c, error_of_errno(err), now);
    return;
  }
  if (opt_.requests_per_connection > 0 && c.replies_on_socket >= opt_.requests_per_connection) {
    // Churn: our close, in the configured mode, then a fresh socket.
    ++stats_.conns.closed_by_client;
    close_socket(c.fd, opt_.close_mode);
    c.fd = -1;
    drop_socket(c);
    open(c, now);
    return;
  }
  refill(c, now);
}

void Worker::on_event(ClientConn& c, uint32_t events, uint64_t now) {
  if (c.state == ConnState::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0 || (events & EPOLLERR)) {
      fail(c, ErrorKind::kConnect, now);
      return;
    }
    on_connected(c, now);
    return;
  }
  if (c.state != ConnState::kUp) return;
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
    read_replies(c, now);
    if (c.state != ConnState::kUp) return;
  }
  if ((events & EPOLLOUT) && c.want_out) flush(c);
}

void Worker::dispatch_due(uint64_t now) {
  while (sending_ && next_due_ns_ <= now) {
    if (!may_send(next_due_ns_, true)) {
      next_due_ns_ = UINT64_MAX;  // end of window or budget: nothing further falls due
      break;
    }
    ClientConn& c = conns_[cursor_];
    uint64_t lag = now - next_due_ns_;
    if (measuring(next_due_ns_)) {
      if (lag > kLateThresholdNs) ++stats_.schedule.late_dispatches;
      stats_.schedule.max_dispatch_lag_ns = std::max(stats_.schedule.max_dispatch_lag_ns, lag);
      ++stats_.schedule.due;
      if (plan_.request_budget) ++budget_used_;  // reserve it now: due means owed
    }
    ++c.due_k;
    auto idx = static_cast<uint32_t>(cursor_);
    if (!touched_flag_[idx]) {
      touched_flag_[idx] = 1;
      touched_.push_back(idx);
    }
    if (++cursor_ == conns_.size()) {
      cursor_ = 0;
      ++cursor_k_;
    }
    next_due_ns_ = schedule_.intended_ns(conns_[cursor_].slot, cursor_k_);
  }
  for (uint32_t idx : touched_) {
    touched_flag_[idx] = 0;
    refill(conns_[idx], now);
  }
  touched_.clear();
}

void Worker::poll_once(uint64_t deadline) {
  uint64_t wait = deadline > now_ ? deadline - now_ : 0;
  timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
  epoll_event events[kMaxEvents];
  int n = ::epoll_pwait2(epfd_, events, kMaxEvents, &ts, nullptr);
  if (n < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "epoll_pwait2");
  // One clock read per batch: the replies in it were all there by now.
  now_ = now_ns();
  if (!cpu_started_ && now_ >= plan_.measure_start_ns) window_cpu_start();
  for (int i = 0; i < n; ++i) {
    ClientConn& c = conns_[events[i].data.u64];
    if (c.fd >= 0) on_event(c, events[i].events, now_);
  }
}

void Worker::connect_phase() {
  now_ = now_ns();
  for (auto& c : conns_) open(c, now_);
  uint64_t deadline = now_ + timeout_ns_;
  while (connecting_ > 0 && now_ < deadline && !stop_.load(std::memory_order_relaxed))
    poll_once(std::min(deadline, now_ + 50'000'000));  // wakes now and then to see a stop
  for (auto& c : conns_)
    if (c.state == ConnState::kConnecting) fail(c, ErrorKind::kConnect, now_);
}

void Worker::wait_for_start() {
  leave_gate();
  uint64_t t0;
  while ((t0 = plan_.gate->t0_ns.load(std::memory_order_acquire)) == 0) plan_.gate->t0_ns.wait(0);
  plan_.t0_ns = t0;
  plan_.measure_start_ns = t0 + plan_.warmup_ns;
  plan_.end_ns = plan_.duration_ns ? plan_.measure_start_ns + plan_.duration_ns : UINT64_MAX;
  started_ = true;
}

void Worker::run() {
  connect_phase();
  wait_for_start();
  if (opt_.open_loop()) {
    // The default 50 µs timer slack would blur a µs schedule; ours is 1 ns.
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    schedule_ = OpenLoopSchedule(plan_.t0_ns, opt_.rate, static_cast<uint64_t>(opt_.connections));
    if (!conns_.empty()) next_due_ns_ = schedule_.intended_ns(conns_[0].slot, 0);
  }
  now_ = now_ns();
  if (!cpu_started_ && now_ >= plan_.measure_start_ns) window_cpu_start();
  for (auto& c : conns_) refill(c, now_);
  while (!done_) {
    uint64_t deadline = next_housekeeping_;
    if (sending_) deadline = std::min({deadline, next_due_ns_, plan_.end_ns});
    if (!cpu_started_) deadline = std::min(deadline, plan_.measure_start_ns);
    poll_once(deadline);
    // A fresh clock: requests that fell due while this batch was handled go now.
    if (opt_.open_loop() && sending_) dispatch_due(now_ns());
    if (now_ >= next_housekeeping_ || (sending_ && now_ >= plan_.end_ns)) housekeeping(now_);
  }
  progress_.requests.store(stats_.requests, std::memory_order_relaxed);
  progress_.done.store(true, std::memory_order_release);
}

}  // namespace iomodels::loadgen
