// Connected TCP loopback pairs for the readiness micro-benchmarks: real
// sockets, because eventfds take a cheaper wakeup path than a TCP socket does.
#pragma once
#include <vector>

#include "core/fd.h"

namespace iomodels {

struct SocketPairs {
  std::vector<Fd> watched;  // the ends a benchmark registers (n of them)
  std::vector<Fd> peers;    // the other ends; writing one byte here makes watched[i] readable
};

// n watched sockets (n peers). Throws std::system_error naming the failing call,
// e.g. when the fd limit does not allow 2n descriptors.
SocketPairs make_socket_pairs(size_t n);

}  // namespace iomodels
