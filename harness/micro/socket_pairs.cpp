#include "harness/micro/socket_pairs.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <system_error>

#include "core/socket_util.h"

namespace iomodels {

SocketPairs make_socket_pairs(size_t n) {
  raise_nofile_limit();
  ListenerOptions lo;
  lo.backlog = 4096;
  Fd listener = make_listener(lo);
  sockaddr_in addr = parse_endpoint(local_address(listener.get()));
  SocketPairs pairs;
  pairs.watched.reserve(n);
  pairs.peers.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // connect() to loopback completes in the kernel before accept(), so a
    // blocking connect followed by accept never waits.
    Fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!c) throw std::system_error(errno, std::generic_category(), "socket");
    if (::connect(c.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::system_error(errno, std::generic_category(), "connect");
    Fd s(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!s) throw std::system_error(errno, std::generic_category(), "accept4");
    // Close with RST: thousands of pairs are made per run, and a FIN close
    // would leave each in TIME_WAIT holding an ephemeral port for a minute.
    linger lg{1, 0};
    ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    set_nonblocking(s.get());
    set_nonblocking(c.get());
    pairs.watched.push_back(std::move(s));
    pairs.peers.push_back(std::move(c));
  }
  return pairs;
}

}  // namespace iomodels
