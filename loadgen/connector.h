// Opening client sockets: non-blocking connect, optional source address from
// 127.0.0.0/8, and the close modes. No waiting happens here.
#pragma once
#include <netinet/in.h>

#include <cstdint>
#include <vector>

#include "core/fd.h"
#include "loadgen/options.h"

namespace iomodels::loadgen {

class Connector {
 public:
  explicit Connector(const Options& opt);

  // Starts a non-blocking connect. Returns the fd (connect in progress or
  // done; check SO_ERROR once writable), or -1 with errno set when the
  // socket could not even be started (EMFILE, EADDRNOTAVAIL, ECONNREFUSED...).
  int start(uint64_t serial) const noexcept;

  // Number of source addresses in use (0: the kernel picks, no bind).
  int source_addresses() const noexcept { return sources_; }

 private:
  Endpoint target_;
  int sources_ = 0;
};

// close(2) in the configured mode (rst: SO_LINGER 0 first).
void close_socket(int fd, CloseMode mode) noexcept;

// Opens `count` connections that will never send, before the run. Connects
// are started in batches and awaited with poll so a slow accept queue cannot
// stall the rest; failures are returned (and counted as connect errors).
struct IdleSet {
  std::vector<Fd> fds;
  uint64_t failed = 0;
};
IdleSet open_idle_connections(const Options& opt, const Connector& c, int count, double timeout_s);
// How many of them the peer has closed (read would return EOF or an error).
uint64_t count_closed(const IdleSet& idle);

}  // namespace iomodels::loadgen
