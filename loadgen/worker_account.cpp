// The Worker's bookkeeping: what a send, a reply, a loss or the end of the run
// means for the figures, plus the housekeeping tick. Every request of the
// measured window ends in exactly one place (worker_stats.h).
#include <sys/resource.h>
#include <time.h>

#include <algorithm>

#include "core/clock.h"
#include "loadgen/worker.h"

namespace iomodels::loadgen {
namespace {

uint64_t thread_cpu_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t since(uint64_t now, uint64_t t) noexcept { return now > t ? now - t : 0; }

}  // namespace

void Worker::read_cpu(double& user, double& sys) const {
  rusage ru{};
  ::getrusage(RUSAGE_THREAD, &ru);
  user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
  sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * 1e-6;
}

void Worker::window_cpu_start() {
  read_cpu(cpu_user0_, cpu_sys0_);
  thread_cpu0_ns_ = thread_cpu_ns();
  wall0_ns_ = now_ns();
  cpu_started_ = true;
}

void Worker::window_cpu_end() {
  if (!cpu_started_ || cpu_ended_) return;
  stats_.window_cpu_ns = thread_cpu_ns() - thread_cpu0_ns_;
  stats_.window_wall_ns = now_ns() - wall0_ns_;
  cpu_ended_ = true;
}

// Seconds only move forward: a reply stamped with a slightly older `now` than
// the last one counts in the second under way, so each second is folded once.
SecondStats& Worker::second_of(uint64_t t) {
  size_t s = static_cast<size_t>(since(t, plan_.measure_start_ns) / 1'000'000'000);
  if (plan_.duration_ns > 0) {
    s = std::min(s, stats_.seconds.size() - 1);  // drained replies belong to the last second
  } else if (s >= stats_.seconds.size()) {
    stats_.seconds.resize(s + 1);  // --requests without --duration: once a second at most
  }
  if (s > live_second_) {
    fold_live_second();
    live_second_ = s;
  }
  return stats_.seconds[live_second_];
}

void Worker::fold_live_second() {
  if (live_second_ >= stats_.seconds.size()) return;
  SecondStats& done = stats_.seconds[live_second_];
  if (live_latency_.count()) {
    progress_.last_second_p99_ns.store(live_latency_.value_at_percentile(99), std::memory_order_relaxed);
    done.latency.add(live_latency_);
    live_latency_.reset();
  }
  if (live_lag_.count()) {
    done.schedule_lag.add(live_lag_);
    live_lag_.reset();
  }
}

void Worker::count_error(ErrorKind kind, uint64_t now) {
  ++stats_.errors[kind];
  if (now >= plan_.measure_start_ns) ++second_of(now).errors;
}

// The socket took the stream up to c.wire_sent: every request whose first
// byte is now out was sent at t (read right before that send call).
void Worker::stamp_sent(ClientConn& c, uint64_t t) {
  while (c.stamped < c.inflight.size()) {
    InFlight& f = c.inflight.at(c.stamped);
    if (f.wire_start >= c.wire_sent) break;
    f.sent_ns = t;
    ++c.stamped;
    if (f.intended_ns >= plan_.measure_start_ns && f.intended_ns < plan_.end_ns) {
      uint64_t lag = since(t, f.intended_ns);
      ++stats_.sent;
      stats_.schedule_lag.record(lag);
      if (t >= plan_.measure_start_ns) {
        second_of(t);
        live_lag_.record(lag);
      }
      if (opt_.open_loop() && lag > kLateThresholdNs) ++stats_.schedule.deferred_sends;
    }
  }
}

void Worker::record_reply(const InFlight& f, ReplyOutcome outcome, uint64_t now) {
  if (f.intended_ns < plan_.measure_start_ns) return;  // warmup
  if (outcome != ReplyOutcome::kOk) return;  // counted as an error by kind: not a request
  uint64_t sent = f.sent_ns ? f.sent_ns : now;
  uint64_t latency = since(now, opt_.open_loop() ? f.intended_ns : sent);
  stats_.corrected.record(latency);
  stats_.uncorrected.record(since(now, sent));
  ++stats_.requests;
  last_reply_ns_ = now;
  ++second_of(now).requests;
  live_latency_.record(latency);
}

// The connection is going away with these requests unanswered. Those of the
// window that went out are lost, and their latency is at least what they
// waited so far (recorded as such, so a hang shows in the tail); those that
// never left the out-buffer are unsent.
void Worker::lose_inflight(ClientConn& c, LostCause cause, uint64_t now) {
  for (size_t i = 0; i < c.inflight.size(); ++i) {
    const InFlight& f = c.inflight.at(i);
    if (f.intended_ns < plan_.measure_start_ns || f.intended_ns >= plan_.end_ns) continue;
    if (f.sent_ns == 0) {
      ++stats_.unsent;
      continue;
    }
    ++stats_.lost[cause];
    uint64_t latency = since(now, opt_.open_loop() ? f.intended_ns : f.sent_ns);
    stats_.corrected.record(latency);
    stats_.uncorrected.record(since(now, f.sent_ns));
    second_of(now);
    live_latency_.record(latency);
  }
  c.inflight.clear();
  c.stamped = 0;
}

void Worker::stop_sending(uint64_t now) {
  sending_ = false;
  uint64_t end = std::min(now, plan_.end_ns);
  stats_.measure_end_ns = end;
  drain_deadline_ = now + timeout_ns_;
  bool budget_spent = plan_.request_budget && budget_used_ >= plan_.request_budget;
  // Ended by the clock: the window is over. Ended by --requests: replies still
  // being drained belong to it, so its CPU is read at the finish.
  if (!budget_spent) window_cpu_end();
  if (!opt_.open_loop()) return;
  // Due in the window but never sent: handed to a connection that could not
  // send them (cap, reconnecting), or not even handed over (our loop was behind).
  for (auto& c : conns_)
    for (uint64_t k = c.sent_k; k < c.due_k; ++k)
      if (measuring(schedule_.intended_ns(c.slot, k))) {
        ++stats_.unsent;
        ++stats_.schedule.unsent_at_end;
      }
  while (next_due_ns_ < end && !conns_.empty()) {
    if (plan_.request_budget && budget_used_ >= plan_.request_budget) break;
    if (measuring(next_due_ns_)) {
      ++stats_.schedule.due;
      ++stats_.unsent;
      ++stats_.schedule.unsent_at_end;
      if (plan_.request_budget) ++budget_used_;
    }
    if (++cursor_ == conns_.size()) {
      cursor_ = 0;
      ++cursor_k_;
    }
    next_due_ns_ = schedule_.intended_ns(conns_[cursor_].slot, cursor_k_);
  }
}

void Worker::finish(uint64_t now) {
  for (auto& c : conns_) lose_inflight(c, LostCause::kEndOfRun, now);
  fold_live_second();
  window_cpu_end();
  double u = 0, s = 0;
  read_cpu(u, s);
  stats_.cpu_user_s = u - cpu_user0_;
  stats_.cpu_sys_s = s - cpu_sys0_;
  // A window ended by --requests lasts until its last reply arrived.
  if (plan_.request_budget && budget_used_ >= plan_.request_budget && now < plan_.end_ns)
    stats_.measure_end_ns = std::max(last_reply_ns_, plan_.measure_start_ns);
  if (stats_.measure_end_ns == 0) stats_.measure_end_ns = std::max(now, plan_.measure_start_ns);
  done_ = true;
}

void Worker::housekeeping(uint64_t now) {
  bool budget_spent = plan_.request_budget && budget_used_ >= plan_.request_budget;
  if (sending_ && (now >= plan_.end_ns || stop_.load(std::memory_order_relaxed) || budget_spent))
    stop_sending(now);
  size_t inflight = 0;
  for (auto& c : conns_) {
    if (c.state == ConnState::kDown) {
      if (sending_ && now >= c.retry_at_ns) open(c, now);
    } else if (c.state == ConnState::kConnecting) {
      if (now - c.connect_start_ns > timeout_ns_) fail(c, ErrorKind::kConnect, now);
    } else if (c.inflight.size() > 0) {
      const InFlight& f = c.inflight.front();
      if (since(now, f.sent_ns ? f.sent_ns : f.intended_ns) > timeout_ns_) {
        fail(c, ErrorKind::kTimeout, now);  // its other requests are lost with it
        continue;
      }
      inflight += c.inflight.size();
    }
  }
  if (!sending_ && (inflight == 0 || now >= drain_deadline_ || stop_.load())) {
    finish(now);
    return;
  }
  // Progress: what this worker did so far (the p99 of its last full second is
  // stored when that second is folded).
  progress_.requests.store(stats_.requests, std::memory_order_relaxed);
  progress_.errors.store(stats_.errors.total(), std::memory_order_relaxed);
  // Every connection is visited per tick: often enough for timeouts and
  // reconnects, rare enough to cost nothing next to the requests.
  next_housekeeping_ = now + std::min<uint64_t>(20'000'000, std::max<uint64_t>(timeout_ns_ / 10, 1'000'000));
}

}  // namespace iomodels::loadgen
