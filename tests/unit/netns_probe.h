// Round trips measured from inside a network namespace, for the tests of the
// netns lab and the delay line: a TCP connect to a port nobody listens on is
// refused after exactly one round trip (SYN out, RST back), so no listener is
// needed. setns() moves only the calling thread, so the probe runs in a thread
// of its own and the test's thread stays where it was.
#pragma once
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

namespace iomodels::test {

// Milliseconds until connect() to addr:9 from namespace `ns` was refused;
// -1 when it could not enter the namespace or the connect was not refused.
inline double refused_connect_ms(const std::string& ns, const std::string& addr) {
  double ms = -1;
  std::thread probe([&] {
    int nsfd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || ::setns(nsfd, CLONE_NEWNET) != 0) return;
    ::close(nsfd);
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval limit{10, 0};  // a lost SYN would otherwise retry for minutes
    ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(9);
    ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    auto t0 = std::chrono::steady_clock::now();
    int rc = ::connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    int err = errno;
    auto t1 = std::chrono::steady_clock::now();
    ::close(s);
    if (rc != 0 && err == ECONNREFUSED) ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  });
  probe.join();
  return ms;
}

}  // namespace iomodels::test
