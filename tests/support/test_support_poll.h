// Internal to tests/support: the deadline-bounded poll both halves of the
// support library (servers, client sockets) wait with.
#pragma once

#include <chrono>
#include <string>

namespace iomodels::test::detail {

using Clock = std::chrono::steady_clock;

// Milliseconds until `end` for poll(2), 0 once past.
int ms_left(Clock::time_point end);
// poll one fd for `events` until `end`; EINTR retried. Returns revents, 0 on timeout.
short poll_one(int fd, short events, Clock::time_point end);
// "call: strerror(errno)".
std::string errno_text(const char* call);

}  // namespace iomodels::test::detail
