#include "harness/micro/socket_pairs.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <system_error>

#include "core/socket_util.h"

namespace iomodels {

namespace {

// Close with RST: thousands of pairs are made per run, and a FIN close would
// leave each in TIME_WAIT holding an ephemeral port for a minute.
void close_with_reset(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

}  // namespace

SocketPairs make_socket_pairs(size_t n) {
  raise_nofile_limit();
  ListenerOptions lo;
  lo.backlog = 4096;
  Fd listener = make_listener(lo);
  Endpoint addr = parse_endpoint(local_address(listener.get()));
  SocketPairs pairs;
  pairs.watched.reserve(n);
  pairs.peers.reserve(n);
  // Connect a chunk, then accept it: the connecting ends get the lower fd
  // numbers, so up to 1000 watched sockets stay below FD_SETSIZE for select.
  // connect() to loopback completes in the kernel before accept(), so neither
  // call waits while the chunk fits the backlog.
  constexpr size_t kChunk = 1000;
  for (size_t done = 0; done < n;) {
    size_t chunk = std::min(kChunk, n - done);
    for (size_t i = 0; i < chunk; ++i) {
      Fd c(::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!c) throw std::system_error(errno, std::generic_category(), "socket");
      if (::connect(c.get(), addr.addr(), addr.len) != 0)
        throw std::system_error(errno, std::generic_category(), "connect");
      close_with_reset(c.get());
      set_nodelay(c.get());  // one-byte sends must not wait for a delayed ACK (Nagle)
      set_nonblocking(c.get());
      pairs.watched.push_back(std::move(c));
    }
    for (size_t i = 0; i < chunk; ++i) {
      Fd s(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!s) throw std::system_error(errno, std::generic_category(), "accept4");
      close_with_reset(s.get());
      set_nodelay(s.get());
      set_nonblocking(s.get());
      pairs.peers.push_back(std::move(s));
    }
    done += chunk;
  }
  return pairs;
}

}  // namespace iomodels
