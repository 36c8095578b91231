// SIGUSR1 snapshots, for every server: one `stats {...}` line on stdout with
// the counters so far, all threads summed (the harness takes one at each end
// of the measured window). The server goes on serving afterwards, and a
// connection that ended (a finished thread, in thread-per-connection models)
// stays counted.
#include <chrono>
#include <thread>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

TEST_P(Conformance, StatsSnapshotOnSigusr1CountsSoFarAndServingGoesOn) {
  ServerProcess& s = start();
  nlohmann::json first = s.snapshot();
  EXPECT_EQ(first.value("schema", ""), "iomodels.server_stats/1");
  EXPECT_EQ(first.value("model", ""), GetParam().name);
  EXPECT_EQ(counter(first, "messages"), 0);
  EXPECT_TRUE(first.contains("rusage")) << first.dump();

  constexpr int kMessages = 20;
  size_t sent = 0;
  {
    Fd c = connect_to(s.port());
    for (int i = 0; i < kMessages; ++i) {
      std::string msg = "snapshot message " + std::to_string(i);
      ASSERT_TRUE(echoes(c.get(), msg));
      sent += msg.size();
    }
    nlohmann::json mid = s.snapshot();
    // Echo counts a message per read that carried data: at least one each.
    EXPECT_GE(counter(mid, "messages"), kMessages) << mid.dump();
    EXPECT_GE(counter(mid, "bytes_in"), static_cast<int64_t>(sent));
    EXPECT_GE(counter(mid, "accepted"), 1);
    EXPECT_TRUE(echoes(c.get(), "still serving after a snapshot"));
    sent += 30;
  }
  // The client closed: wait (bounded) until the server has seen it, then the
  // connection's counts must still be in the totals.
  nlohmann::json after;
  for (int i = 0; i < 100; ++i) {
    after = s.snapshot();
    if (counter(after, "closed") >= 1) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_GE(counter(after, "closed"), 1) << after.dump();
  EXPECT_GE(counter(after, "messages"), kMessages + 1) << after.dump();
  EXPECT_GE(counter(after, "bytes_in"), static_cast<int64_t>(sent));

  nlohmann::json final_stats = stop_and_stats();
  EXPECT_GE(counter(final_stats, "messages"), counter(after, "messages"));
  EXPECT_GE(counter(final_stats, "bytes_in"), static_cast<int64_t>(sent));
}

}  // namespace
}  // namespace iomodels::test
