// What stats.messages counts (servers/common/connection.h). Echo has no
// framing, so a message is what one read delivered: a 64 KiB read counts one,
// although Connection serves it in slices (a sixteenth of the room under the
// cap each). Framed counts its frames, however the reads cut them.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "servers/common/connection.h"

namespace iomodels {
namespace {

Connection make(Protocol p, int fds[2]) {
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  ::close(fds[1]);
  return Connection(Fd(fds[0]), make_server_session(p, {}), 256 * 1024);
}

TEST(ConnectionMessages, EchoCountsOneMessagePerRead) {
  int fds[2];
  Connection c = make(Protocol::kEcho, fds);
  ServerStats st;
  const std::string read(Connection::kReadChunk, 'x');  // served in several slices
  for (int i = 0; i < 3; ++i) {
    c.on_received(read.data(), read.size(), st);
    c.on_sent(c.out().readable_bytes(), st);
  }
  EXPECT_EQ(uint64_t(st.messages), 3u);
  EXPECT_EQ(uint64_t(st.bytes_out), 3 * read.size());  // all of it echoed
  c.on_received("", 0, st);  // a read that carried nothing is no message
  EXPECT_EQ(uint64_t(st.messages), 3u);
}

TEST(ConnectionMessages, EchoHeldBackInputIsNotCountedAgain) {
  int fds[2];
  Connection c = make(Protocol::kEcho, fds);
  ServerStats st;
  const std::string read(Connection::kReadChunk, 'y');
  for (int i = 0; i < 8; ++i) c.on_received(read.data(), read.size(), st);  // past the 256 KiB cap: held
  while (c.wants_write()) c.on_sent(c.out().readable_bytes(), st);  // held input served as room frees
  EXPECT_EQ(uint64_t(st.bytes_out), 8 * read.size());
  EXPECT_EQ(uint64_t(st.messages), 8u);
}

TEST(ConnectionMessages, FramedCountsFramesNotReads) {
  int fds[2];
  Connection c = make(Protocol::kFramed, fds);
  ServerStats st;
  std::string frames;
  for (int i = 0; i < 5; ++i) frames += std::string("\0\0\0\3abc", 7);
  c.on_received(frames.data(), 10, st);  // one frame and a part
  c.on_received(frames.data() + 10, frames.size() - 10, st);
  EXPECT_EQ(uint64_t(st.messages), 5u);
}

}  // namespace
}  // namespace iomodels
