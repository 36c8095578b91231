#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <gtest/gtest.h>
#include <stdexcept>
#include <system_error>

#include "core/errno_class.h"
#include "core/socket_util.h"

namespace iomodels {
namespace {

// A blocking client with a receive timeout, so no test can hang.
Fd connect_to(uint16_t port, const std::string& host = "127.0.0.1") {
  Endpoint sa = parse_endpoint(host + ":" + std::to_string(port));
  Fd fd(::socket(sa.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  EXPECT_EQ(::connect(fd.get(), sa.addr(), sa.len), 0) << errno;
  return fd;
}

// The kernel may be built or booted without IPv6 (ipv6.disable=1).
bool ipv6_loopback_missing() {
  Fd s(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return true;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return ::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
}

TEST(SocketUtil, ListenerOnPortZeroReportsARealPort) {
  Fd l = make_listener({});
  uint16_t port = local_port(l.get());
  EXPECT_NE(port, 0);
  EXPECT_EQ(local_address(l.get()), "127.0.0.1:" + std::to_string(port));
  Fd c = connect_to(port);
  Fd a(::accept(l.get(), nullptr, nullptr));
  ASSERT_TRUE(a.valid());
  ASSERT_EQ(::send(c.get(), "x", 1, 0), 1);
  char ch = 0;
  EXPECT_EQ(::recv(a.get(), &ch, 1, 0), 1);
  EXPECT_EQ(ch, 'x');
}

TEST(SocketUtil, ListenerOptions) {
  ListenerOptions opt;
  opt.bind = "localhost";
  opt.nonblocking = true;
  opt.reuseport = true;
  Fd l = make_listener(opt);
  EXPECT_TRUE(::fcntl(l.get(), F_GETFL) & O_NONBLOCK);
  int on = 0;
  socklen_t len = sizeof on;
  ::getsockopt(l.get(), SOL_SOCKET, SO_REUSEPORT, &on, &len);
  EXPECT_NE(on, 0);
  // Nothing pending on a nonblocking listener: accept says wait, not fail.
  EXPECT_LT(::accept(l.get(), nullptr, nullptr), 0);
  EXPECT_EQ(classify_errno(errno), ErrnoClass::kWouldBlock);
}

TEST(SocketUtil, BadBindAddressThrowsSystemError) {
  ListenerOptions opt;
  opt.bind = "not-an-address";
  EXPECT_THROW(make_listener(opt), std::system_error);
  opt.bind = "192.0.2.1";  // TEST-NET: not a local address, bind fails
  try {
    make_listener(opt);
    FAIL() << "bind to a foreign address succeeded";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("bind"), std::string::npos) << e.what();
  }
}

TEST(SocketUtil, NonblockingAndNodelay) {
  Fd s(::socket(AF_INET, SOCK_STREAM, 0));
  set_nonblocking(s.get());
  EXPECT_TRUE(::fcntl(s.get(), F_GETFL) & O_NONBLOCK);
  set_nonblocking(s.get(), false);
  EXPECT_FALSE(::fcntl(s.get(), F_GETFL) & O_NONBLOCK);
  set_nodelay(s.get());
  int on = 0;
  socklen_t len = sizeof on;
  ::getsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &on, &len);
  EXPECT_NE(on, 0);
  EXPECT_THROW(set_nonblocking(-1), std::system_error);
}

TEST(SocketUtil, ParseEndpoint) {
  Endpoint sa = parse_endpoint("127.0.0.1:7000");
  ASSERT_EQ(sa.family(), AF_INET);
  EXPECT_EQ(sa.port(), 7000);
  EXPECT_EQ(ntohl(reinterpret_cast<const sockaddr_in*>(sa.addr())->sin_addr.s_addr), 0x7f000001u);
  EXPECT_EQ(sa.to_string(), "127.0.0.1:7000");
  EXPECT_TRUE(sa.is_loopback());
  Endpoint lh = parse_endpoint("localhost:1");  // always IPv4, whatever /etc/hosts says
  ASSERT_EQ(lh.family(), AF_INET);
  EXPECT_EQ(ntohl(reinterpret_cast<const sockaddr_in*>(lh.addr())->sin_addr.s_addr), 0x7f000001u);
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:80x", "no-such-host.invalid:80", "::1:80", "[::1]:", "[::1]",
                          "[127.0.0.1x]:80", "[::g]:80"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
  }
}

TEST(SocketUtil, ParseEndpointIpv6) {
  Endpoint sa = parse_endpoint("[::1]:7000");
  ASSERT_EQ(sa.family(), AF_INET6);
  EXPECT_EQ(sa.len, sizeof(sockaddr_in6));
  EXPECT_EQ(sa.port(), 7000);
  EXPECT_TRUE(sa.is_loopback());
  EXPECT_EQ(sa.to_string(), "[::1]:7000");
  EXPECT_EQ(parse_endpoint("[fd00:1::2]:80").to_string(), "[fd00:1::2]:80");
  EXPECT_FALSE(parse_endpoint("[fd00:1::2]:80").is_loopback());
  EXPECT_EQ(resolve_endpoint("::1", 9).to_string(), "[::1]:9");  // a bare host has no port to confuse
  EXPECT_STREQ(family_name(AF_INET6), "ipv6");
  EXPECT_STREQ(family_name(AF_INET), "ipv4");
}

TEST(SocketUtil, Ipv6LoopbackListener) {
  if (ipv6_loopback_missing()) GTEST_SKIP() << "this kernel has no IPv6 loopback (ipv6 disabled)";
  ListenerOptions o;
  o.bind = "::1";
  Fd l = make_listener(o);
  EXPECT_EQ(socket_family(l.get()), AF_INET6);
  uint16_t port = local_port(l.get());
  EXPECT_EQ(local_address(l.get()), "[::1]:" + std::to_string(port));
  Fd c = connect_to(port, "[::1]");
  Fd a(::accept(l.get(), nullptr, nullptr));
  EXPECT_TRUE(a);
}

// "::" is both families: an IPv4 client reaches it too, whatever
// net.ipv6.bindv6only says.
TEST(SocketUtil, DualStackListenerTakesBothFamilies) {
  if (ipv6_loopback_missing()) GTEST_SKIP() << "this kernel has no IPv6 loopback (ipv6 disabled)";
  ListenerOptions o;
  o.bind = "::";
  Fd l = make_listener(o);
  int v6only = -1;
  socklen_t len = sizeof v6only;
  ::getsockopt(l.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
  EXPECT_EQ(v6only, 0);
  uint16_t port = local_port(l.get());
  EXPECT_EQ(local_address(l.get()), "[::]:" + std::to_string(port));
  Fd c4 = connect_to(port, "127.0.0.1");
  Fd a4(::accept(l.get(), nullptr, nullptr));
  EXPECT_TRUE(a4);
  Fd c6 = connect_to(port, "[::1]");
  Fd a6(::accept(l.get(), nullptr, nullptr));
  EXPECT_TRUE(a6);
}

TEST(SocketUtil, BadBindAddressNamesIt) {
  ListenerOptions o;
  o.bind = "::1::2";
  try {
    make_listener(o);
    ADD_FAILURE() << "no throw";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("::1::2"), std::string::npos) << e.what();
  }
}

TEST(SocketUtil, RaiseNofileLimit) {
  rlimit before{};
  ::getrlimit(RLIMIT_NOFILE, &before);
  uint64_t now = raise_nofile_limit();
  EXPECT_GE(now, before.rlim_cur);
  EXPECT_EQ(now, before.rlim_max);
}

TEST(SocketUtil, SpareFdShedsAPendingConnection) {
  Fd l = make_listener({});
  Fd c = connect_to(local_port(l.get()));
  SpareFd spare;
  EXPECT_TRUE(spare.shed_one(l.get()));
  char ch;
  ssize_t n = ::recv(c.get(), &ch, 1, 0);  // the peer sees a close, not a hang
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << n << " " << errno;
  // Nothing pending on a nonblocking listener: nothing shed, and it still works.
  set_nonblocking(l.get());
  EXPECT_FALSE(spare.shed_one(l.get()));
  Fd c2 = connect_to(local_port(l.get()));
  EXPECT_TRUE(spare.shed_one(l.get()));
}

// The spare lost (its reopen failed under a full table) and room back: the
// pending peer is not shed, it stays for the caller's next accept.
TEST(SocketUtil, SpareFdLostShedsNothingAndComesBack) {
  Fd l = make_listener({});
  set_nonblocking(l.get());
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  SpareFd spare;
  Fd c = connect_to(local_port(l.get()));
  rlimit low = saved;
  low.rlim_cur = 3;  // below every fd we hold: accept and the spare's reopen both fail
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  bool shed_low = spare.shed_one(l.get());  // closes the spare; its reopen fails: lost
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_FALSE(shed_low);
  EXPECT_FALSE(spare.shed_one(l.get())) << "a lost spare must not shed a peer once room is back";
  Fd served(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
  EXPECT_TRUE(served) << "the pending peer is still there to be served";
  Fd c2 = connect_to(local_port(l.get()));
  EXPECT_TRUE(spare.shed_one(l.get())) << "the spare is back: shedding works again";
}

TEST(ErrnoClass, Table) {
  EXPECT_EQ(classify_errno(EINTR), ErrnoClass::kInterrupted);
  EXPECT_EQ(classify_errno(EAGAIN), ErrnoClass::kWouldBlock);
  EXPECT_EQ(classify_errno(EWOULDBLOCK), ErrnoClass::kWouldBlock);
  for (int e : {ECONNRESET, EPIPE, ETIMEDOUT, ECONNABORTED, ENOTCONN, EHOSTUNREACH, ENETUNREACH,
                ECONNREFUSED}) {
    EXPECT_EQ(classify_errno(e), ErrnoClass::kPeerGone) << e;
  }
  for (int e : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) {
    EXPECT_EQ(classify_errno(e), ErrnoClass::kNoResources) << e;
  }
  EXPECT_EQ(classify_errno(EBADF), ErrnoClass::kUnexpected);
  EXPECT_STREQ(errno_class_name(ErrnoClass::kPeerGone), "peer_gone");
}

TEST(ErrnoClass, Describe) {
  EXPECT_EQ(describe_errno("recv", ECONNRESET), "recv: Connection reset by peer (ECONNRESET)");
  EXPECT_NE(describe_errno("x", 99999).find("x: "), std::string::npos);
}

}  // namespace
}  // namespace iomodels
