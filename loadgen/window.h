// The measured window as others see it: the --notify-fd lines, and the check
// that the server has accepted every connection before the window opens (so a
// c10k accept storm falls before it, not inside it).
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/socket_util.h"

namespace iomodels::loadgen {

// Writes "WHAT NS\n" lines to a file descriptor, each with one write(2) so it
// is flushed at once. fd < 0: does nothing. A reader that went away costs a
// warning on stderr, never the run.
class Notifier {
 public:
  explicit Notifier(int fd) : fd_(fd) {}
  void line(const char* what, uint64_t ns);

 private:
  int fd_;
  bool warned_ = false;
};

// Connections waiting in the accept queue of the listener(s) at `target`
// (the kernel's count, NETLINK_SOCK_DIAG), or nullopt when no such listener
// is visible from here (another host or network namespace).
std::optional<uint64_t> accept_queue_length(const Endpoint& target);

// Waits until that queue is empty, polling every millisecond up to
// `deadline_ns` (CLOCK_MONOTONIC). Returns "empty", "not_visible" or "timeout".
std::string settle_accept_queue(const Endpoint& target, uint64_t deadline_ns);

}  // namespace iomodels::loadgen
