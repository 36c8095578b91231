#include "harness/run/window.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "core/clock.h"

namespace iomodels::harness {

using nlohmann::json;

json WindowSampler::snapshot() {
  if (!snapshots_) return nullptr;
  srv_.signal(SIGUSR1);
  const uint64_t deadline = now_ns() + static_cast<uint64_t>(timeout_ms_) * 1'000'000;
  for (;;) {
    uint64_t now = now_ns();
    if (now >= deadline) return nullptr;
    auto line = srv_.read_line(static_cast<int>((deadline - now) / 1'000'000) + 1);
    if (!line) return nullptr;
    if (line->rfind("stats ", 0) != 0) continue;  // a stray line: not ours
    try {
      return json::parse(line->substr(6));
    } catch (const json::parse_error&) {
      return nullptr;
    }
  }
}

void WindowSampler::snapshot_with_kernel(WindowEnd& w) {
  if (!kernel_) {
    w.stats = snapshot();
    return;
  }
  // The kernel's counts at the snapshot's instant: the mean of a read just
  // before the SIGUSR1 and one just after the `stats` line, so the two
  // windows (server counters, kernel counters) match to a few messages even
  // when the harness is slow to read (one read after the snapshot was 1.7%
  // short at 40k msg/s on a loaded machine).
  cost::SyscallCounts before = kernel_->read();
  w.stats = snapshot();
  cost::SyscallCounts after = kernel_->read();
  for (auto& [name, n] : after) n = (n + (before.count(name) ? before[name] : 0) + 1) / 2;
  w.kernel = std::move(after);
}

bool WindowSampler::take_start(uint64_t announced_ns) {
  WindowEnd w;
  w.announced_ns = announced_ns;
  snapshot_with_kernel(w);
  auto cpu = sample_cpu(srv_.pid());
  if (!cpu) return false;
  w.cpu = *cpu;
  start_ = std::move(w);
  return true;
}

bool WindowSampler::take_end(uint64_t announced_ns) {
  WindowEnd w;
  w.announced_ns = announced_ns;
  auto cpu = sample_cpu(srv_.pid());
  if (!cpu) return false;
  w.cpu = *cpu;
  snapshot_with_kernel(w);
  end_ = std::move(w);
  return true;
}

json WindowSampler::describe(const std::string& source) const {
  json j = {{"source", source}};
  auto lag = [](const WindowEnd& w) {
    return w.announced_ns && w.cpu.taken_ns >= w.announced_ns
               ? json(static_cast<double>(w.cpu.taken_ns - w.announced_ns) / 1e3) : json(nullptr);
  };
  if (start_) {
    j["start_ns"] = start_->cpu.taken_ns;
    if (start_->announced_ns) j["loadgen_start_ns"] = start_->announced_ns;
  }
  if (end_) {
    j["end_ns"] = end_->cpu.taken_ns;
    if (end_->announced_ns) j["loadgen_end_ns"] = end_->announced_ns;
  }
  j["sample_lag_us"] = {{"start", start_ ? lag(*start_) : json(nullptr)},
                        {"end", end_ ? lag(*end_) : json(nullptr)}};
  j["snapshots"] = start_ && end_ && !start_->stats.is_null() && !end_->stats.is_null();
  return j;
}

std::optional<std::string> NotifyReader::next(int timeout_ms) {
  for (bool waited = false;; waited = true) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (eof_ || waited) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return std::nullopt;
    char buf[512];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n > 0) pending_.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof_ = true;
  }
}

std::optional<std::pair<std::string, uint64_t>> parse_notify_line(const std::string& line) {
  std::istringstream in(line);
  std::string word;
  unsigned long long ns = 0;
  if (!(in >> word >> ns)) return std::nullopt;
  if (word != "window_start" && word != "window_end" && word != "ready") return std::nullopt;
  return std::make_pair(word, static_cast<uint64_t>(ns));
}

}  // namespace iomodels::harness
