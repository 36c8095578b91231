// The server-wide buffer budget (servers/common/buffer_budget.h): connections
// charge what they hold, a connection that grows while the server is over its
// budget is refused (its buffers dropped, counted, then closed like any
// refusal), small ones are never charged nor refused, and closing a
// connection gives its charge back.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "servers/common/connection.h"

namespace iomodels {
namespace {

std::string framed(size_t body) {
  std::string f(4 + body, 'x');
  f[0] = char(body >> 24), f[1] = char(body >> 16), f[2] = char(body >> 8), f[3] = char(body);
  return f;
}

std::unique_ptr<Connection> connection(Protocol p) {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  ::close(fds[1]);
  return std::make_unique<Connection>(Fd(fds[0]), make_server_session(p, {}), 256 * 1024);
}

// In reads of 64 KiB, as the models read.
void feed(Connection& c, const std::string& bytes, ServerStats& st) {
  for (size_t at = 0; at < bytes.size() && !c.closing(); at += Connection::kReadChunk)
    c.on_received(bytes.data() + at, std::min(Connection::kReadChunk, bytes.size() - at), st);
}

struct BudgetLimit {
  explicit BudgetLimit(size_t bytes) { BufferBudget::process().set_limit(bytes); }
  ~BudgetLimit() { BufferBudget::process().set_limit(BufferBudget::kDefaultLimit); }
};

TEST(BufferBudget, RefusesWhatGrowsPastTheBudgetAndGivesChargesBack) {
  BudgetLimit limit(4 << 20);
  const size_t before = BufferBudget::process().charged();
  ServerStats st;
  const std::string frame = framed(1 << 20);
  std::vector<std::unique_ptr<Connection>> kept;
  for (int i = 0; i < 3; ++i) {  // each holds its 1 MiB reply: about 3.2 MiB in all
    kept.push_back(connection(Protocol::kFramed));
    feed(*kept.back(), frame, st);
    ASSERT_FALSE(kept.back()->closing()) << i;
    ASSERT_EQ(kept.back()->out().readable_bytes(), frame.size());
  }
  const size_t three = BufferBudget::process().charged() - before;
  EXPECT_GE(three, 3 * frame.size());
  EXPECT_EQ(uint64_t(st.extra["buffer_budget_refusals"]), 0u);

  auto late = connection(Protocol::kFramed);  // stages its frame past 4 MiB: refused
  feed(*late, frame, st);
  EXPECT_TRUE(late->closing());
  EXPECT_TRUE(late->out().empty()) << "its buffers are dropped at once";
  EXPECT_TRUE(late->linger_due()) << "then it closes like any refusal";
  EXPECT_EQ(uint64_t(st.extra["buffer_budget_refusals"]), 1u);
  EXPECT_EQ(BufferBudget::process().charged() - before, three) << "the refused one gave its charge back";

  auto small = connection(Protocol::kEcho);  // over the budget still, but it asks for little
  const std::string hello = "hello";
  small->on_received(hello.data(), hello.size(), st);
  EXPECT_FALSE(small->closing());
  EXPECT_EQ(small->out().view(), hello);
  EXPECT_EQ(uint64_t(st.extra["buffer_budget_refusals"]), 1u);

  Connection moved = std::move(*kept.back());  // models move connections into place
  kept.pop_back();
  EXPECT_EQ(BufferBudget::process().charged() - before, three);
  moved.on_sent(moved.out().readable_bytes(), st);  // the reply went: the buffer shrinks
  EXPECT_LE(BufferBudget::process().charged() - before, three - frame.size() + 64 * 1024);  // 64 KiB kept hot
  kept.clear();
  EXPECT_LE(BufferBudget::process().charged() - before, 128u * 1024);
}

}  // namespace
}  // namespace iomodels
