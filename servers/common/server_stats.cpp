#include "servers/common/server_stats.h"

#include <nlohmann/json.hpp>

namespace iomodels {

const char* syscall_name(Syscall s) noexcept {
  static constexpr const char* kNames[] = {
      "accept",      "accept4",      "read",       "recv",        "readv",      "write",
      "send",        "writev",       "close",      "shutdown",    "select",     "poll",
      "epoll_wait",  "epoll_ctl",    "sigwaitinfo", "sigtimedwait", "fcntl",
      "aio_read",    "aio_write",    "aio_suspend", "aio_error",   "aio_return",
      "io_uring_enter", "io_uring_submit", "nanosleep", "event_base_loop", "epoll_pwait", "ioctl"};
  static_assert(std::size(kNames) == static_cast<size_t>(Syscall::kCount_));
  return kNames[static_cast<size_t>(s)];
}

void ServerStats::merge(const ServerStats& o) {
  accepted += o.accepted;
  rejected += o.rejected;
  closed += o.closed;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  messages += o.messages;
  protocol_errors += o.protocol_errors;
  peer_resets += o.peer_resets;
  unexpected_errors += o.unexpected_errors;
  wakeups += o.wakeups;
  events += o.events;
  for (size_t i = 0; i < syscalls.size(); ++i) syscalls[i] += o.syscalls[i];
  for (const auto& [k, v] : o.extra.copy()) extra[k] += v;
}

void ServerStats::to_json(nlohmann::json& out) const {
  out["accepted"] = accepted.load();
  out["rejected"] = rejected.load();
  out["closed"] = closed.load();
  out["bytes_in"] = bytes_in.load();
  out["bytes_out"] = bytes_out.load();
  out["messages"] = messages.load();
  out["protocol_errors"] = protocol_errors.load();
  out["peer_resets"] = peer_resets.load();
  out["unexpected_errors"] = unexpected_errors.load();
  out["wakeups"] = wakeups.load();
  out["events"] = events.load();
  nlohmann::json sc = nlohmann::json::object();
  for (size_t i = 0; i < syscalls.size(); ++i)
    if (uint64_t n = syscalls[i]; n != 0) sc[syscall_name(static_cast<Syscall>(i))] = n;
  out["syscalls"] = std::move(sc);
  nlohmann::json ex = nlohmann::json::object();
  for (const auto& [k, v] : extra.copy()) ex[k] = v;
  out["extra"] = std::move(ex);
}

}  // namespace iomodels
