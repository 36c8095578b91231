// Syscall counts for the framework models (asio, libuv), where the library,
// not the model, makes the calls.
//
// Those executables link with -Wl,--wrap=NAME for each call counted in
// wrapped_syscalls.cpp, so the linker sends every call to NAME from code linked
// in statically (Asio is header-only, libuv comes from its static archive, and
// our own code) to __wrap_NAME, which counts it and calls the real one. Calls
// from shared libraries (libc's internal ones, libstdc++) are not seen.
// Counting is per thread: only calls made by the thread that registered its
// stats are counted, so the counters keep their single writer. The model must
// not count these calls itself as well; close(2) is not wrapped (the shared
// accept policy counts its own), so models count their closes as usual.
#pragma once
#include "servers/common/server_stats.h"

namespace iomodels {

// From now on, wrapped calls made by this thread are counted in *stats
// (nullptr: stop counting). epoll_wait/epoll_pwait calls that return also
// count as wakeups, as every readiness model counts its wait calls.
void count_wrapped_syscalls(ServerStats* stats) noexcept;

}  // namespace iomodels
