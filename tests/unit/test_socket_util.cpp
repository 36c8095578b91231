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
Fd connect_to(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{2, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa = parse_endpoint("127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << errno;
  return fd;
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
  sockaddr_in sa = parse_endpoint("127.0.0.1:7000");
  EXPECT_EQ(ntohs(sa.sin_port), 7000);
  EXPECT_EQ(ntohl(sa.sin_addr.s_addr), 0x7f000001u);
  EXPECT_EQ(ntohl(parse_endpoint("localhost:1").sin_addr.s_addr), 0x7f000001u);
  for (const char* bad : {"", "127.0.0.1", "127.0.0.1:", ":80", "127.0.0.1:0", "127.0.0.1:65536",
                          "127.0.0.1:80x", "example.com:80", "::1:80"}) {
    EXPECT_THROW(parse_endpoint(bad), std::invalid_argument) << bad;
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
