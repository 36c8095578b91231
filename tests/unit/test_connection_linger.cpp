// Lingering close, the shared part (servers/common/connection.h): when the
// protocol refuses, the reply goes out, then the write side is shut and reads
// are dropped until EOF, 64 KiB or the deadline. Over a real socketpair, so
// the shutdown is seen by the peer.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/clock.h"
#include "servers/common/connection.h"

namespace iomodels {
namespace {

struct Pair {
  Pair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0); }
  ~Pair() { ::close(fds[1]); }  // fds[0] belongs to the Connection
  int fds[2];
};

std::unique_ptr<Connection> refused_http(Pair& p, ServerStats& st) {
  auto c = std::make_unique<Connection>(Fd(p.fds[0]), make_server_session(Protocol::kHttp, {}), 1 << 20);
  std::string bad = "BROKEN\r\n\r\n";
  c->on_received(bad.data(), bad.size(), st);
  return c;
}

TEST(LingeringClose, DueOnlyOnceTheRefusalIsSent) {
  Pair p;
  ServerStats st;
  auto c = refused_http(p, st);
  EXPECT_TRUE(c->closing());
  EXPECT_FALSE(c->wants_read());
  EXPECT_FALSE(c->linger_due()) << "the 400 is still owed";
  c->on_sent(c->out().readable_bytes(), st);
  EXPECT_TRUE(c->linger_due());
  EXPECT_TRUE(c->finished()) << "a model that does not linger closes as before";
  // The peer half-closed first: nothing to linger for.
  c->on_peer_eof();
  EXPECT_FALSE(c->linger_due());
}

TEST(LingeringClose, ShutsTheWriteSideThenDropsReadsUpTo64KiB) {
  Pair p;
  ServerStats st;
  auto c = refused_http(p, st);
  std::string reply(c->out().view());
  ASSERT_EQ(::send(c->fd(), reply.data(), reply.size(), 0), ssize_t(reply.size()));
  c->on_sent(reply.size(), st);
  LingerQueue q;
  ASSERT_TRUE(q.start(*c, 7, st));
  EXPECT_TRUE(c->lingering());
  EXPECT_FALSE(c->linger_due());
  EXPECT_TRUE(c->wants_read());
  EXPECT_FALSE(c->finished());
  // The peer reads the whole reply, then EOF (a FIN, not a reset).
  std::string got(4096, '\0');
  ssize_t n = ::recv(p.fds[1], got.data(), got.size(), 0);
  ASSERT_EQ(n, ssize_t(reply.size()));
  EXPECT_EQ(got.substr(0, size_t(n)), reply);
  EXPECT_EQ(::recv(p.fds[1], got.data(), got.size(), 0), 0);
  // What it still sends is dropped, never answered, and ends the linger at 64 KiB.
  std::string junk(16 * 1024, 'x');
  for (int i = 0; i < 3; ++i) c->on_received(junk.data(), junk.size(), st);
  EXPECT_TRUE(c->out().empty());
  EXPECT_FALSE(c->finished());
  c->on_received(junk.data(), junk.size(), st);
  EXPECT_TRUE(c->finished());
  EXPECT_EQ(st.syscalls[size_t(Syscall::kShutdown)], 1u);
}

TEST(LingeringClose, QueueTimesOutAtTheDeadlineAndSkipsReusedKeys) {
  Pair a, b;
  ServerStats st;
  auto ca = refused_http(a, st), cb = refused_http(b, st);
  ca->on_sent(ca->out().readable_bytes(), st);
  cb->on_sent(cb->out().readable_bytes(), st);
  LingerQueue q;
  EXPECT_EQ(q.timeout_ms(), -1);
  EXPECT_EQ(q.timeout_ms(25), 25);
  ASSERT_TRUE(q.start(*ca, 1, st));
  ASSERT_TRUE(q.start(*cb, 2, st));
  int ms = q.timeout_ms();
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 1000);
  EXPECT_EQ(q.timeout_ms(5), 5);
  std::vector<uint64_t> closed;
  // Nothing is due before the deadline.
  q.expire(now_ns(), [&](uint64_t k) { return k == 1 ? ca.get() : cb.get(); },
           [&](uint64_t k) { closed.push_back(k); });
  EXPECT_TRUE(closed.empty());
  // Past it: key 1 still holds its connection, key 2 was closed and reused by
  // a connection that is not lingering: only 1 is closed.
  Pair c;
  auto fresh = std::make_unique<Connection>(Fd(c.fds[0]), make_server_session(Protocol::kHttp, {}), 1 << 20);
  q.expire(std::max(ca->linger_deadline_ns(), cb->linger_deadline_ns()) + 1,
           [&](uint64_t k) { return k == 1 ? ca.get() : fresh.get(); },
           [&](uint64_t k) { closed.push_back(k); });
  EXPECT_EQ(closed, std::vector<uint64_t>{1});
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace iomodels
