// Conformance, part 1: echo integrity, the framed protocol, the stop, the stats.
// Every TEST_P here and in test_conformance_*.cpp runs once per server.
#include "tests/conformance/test_conformance.h"

#include <thread>

namespace iomodels::test {
namespace {

TEST_P(Conformance, EchoIntegrityWritingAndReadingAtOnce) {
  start("echo");
  for (size_t size : {size_t(1), size_t(1024), size_t(64 * 1024), size_t(1024 * 1024)}) {
    SCOPED_TRACE("size " + std::to_string(size));
    Fd c = connect_to(server().port());
    EXPECT_TRUE(echoes(c.get(), pattern(size, size)));
  }
  EXPECT_TRUE(server().running());
}

TEST_P(Conformance, EchoManyRoundTripsOnOneConnection) {
  start("echo");
  Fd c = connect_to(server().port());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(echoes(c.get(), pattern(size_t(1 + i * 97), uint64_t(i)))) << i;
}

TEST_P(Conformance, FramedSplitByteByByte) {
  start("framed");
  Fd c = connect_to(server().port());
  const std::string msg = frame(pattern(200, 7));
  for (size_t i = 0; i + 1 < msg.size(); ++i) ASSERT_TRUE(send_all(c.get(), msg.substr(i, 1))) << i;
  // Store-and-forward: nothing may come back before the frame is complete.
  EXPECT_FALSE(data_within(c.get(), milliseconds(50))) << "replied before the whole frame arrived";
  ASSERT_TRUE(send_all(c.get(), msg.substr(msg.size() - 1)));
  std::string got = recv_exact(c.get(), msg.size(), kIo);
  EXPECT_EQ(first_mismatch(got, msg), std::string::npos) << "got " << got.size() << " bytes";
}

TEST_P(Conformance, FramedManyFramesInOneWrite) {
  start("framed");
  Fd c = connect_to(server().port());
  std::string all;
  for (int i = 0; i < 200; ++i) all += frame(pattern(size_t(i * 37 % 1000), uint64_t(i)));  // i=0: empty frame
  EXPECT_TRUE(echoes(c.get(), all));
  // And one frame bigger than any single read, at the default --max-frame.
  EXPECT_TRUE(echoes(c.get(), frame(pattern(1 << 20, 3))));
}

TEST_P(Conformance, FramedOversizeLengthClosesAndIsCounted) {
  start("framed", {"--max-frame", "1024"});
  Fd good = connect_to(server().port());
  EXPECT_TRUE(echoes(good.get(), frame(pattern(1024, 1)))) << "a frame of exactly --max-frame is fine";

  Fd bad = connect_to(server().port());
  ASSERT_TRUE(send_all(bad.get(), frame_header(1025) + pattern(100, 2)));
  std::string drained;
  EXPECT_NE(wait_peer_end(bad.get(), milliseconds(3000), &drained), PeerEnd::kOpen)
      << "an oversize length must close the connection";
  EXPECT_TRUE(drained.empty()) << "nothing is owed to an oversize frame";
  // A huge length must not make the server allocate it: it is still alive and serving.
  Fd huge = connect_to(server().port());
  ASSERT_TRUE(send_all(huge.get(), frame_header(0xFFFFFFFFu)));
  EXPECT_NE(wait_peer_end(huge.get(), milliseconds(3000)), PeerEnd::kOpen);
  EXPECT_TRUE(echoes(good.get(), frame(pattern(10, 3)))) << "others are still served";

  nlohmann::json stats = stop_and_stats();
  EXPECT_GE(counter(stats, "protocol_errors"), 2);
}

TEST_P(Conformance, MaxConnectionsRejectsTheExcess) {
  start("echo", {"--max-connections", "2"});
  Fd a = connect_to(server().port());
  ASSERT_TRUE(echoes(a.get(), "a"));
  Fd b = connect_to(server().port());
  ASSERT_TRUE(echoes(b.get(), "b"));
  Fd c = connect_to(server().port());
  send_all(c.get(), "c");  // may already fail: the server closes it at once
  EXPECT_NE(wait_peer_end(c.get(), milliseconds(3000)), PeerEnd::kOpen) << "a third connection is over the cap";
  EXPECT_TRUE(echoes(a.get(), "still a"));
  nlohmann::json stats = stop_and_stats();
  EXPECT_GE(counter(stats, "rejected"), 1);
}

// The stop (docs/design.md, "Servers") and the stats JSON's shape ("Server stats").
TEST_P(Conformance, SigtermExitsCleanlyWithStats) {
  start("echo");
  Fd active = connect_to(server().port());
  const std::string msg = pattern(1000, 5);
  ASSERT_TRUE(echoes(active.get(), msg));
  Fd idle = connect_to(server().port());  // open and silent at the stop
  Fd partial = connect_to(server().port());
  ASSERT_TRUE(send_all(partial.get(), "half a mess"));
  ASSERT_EQ(recv_exact(partial.get(), 11, kIo), "half a mess");  // surely accepted by now
  // A reader that stopped reading: the server is blocked in (or waiting to)
  // send to it, and the stop must not wait for it.
  Fd stuck = connect_to(server().port(), ConnectOptions{.rcvbuf = 16 * 1024});
  send_until_stalled(stuck.get(), pattern(4 << 20, 6), milliseconds(200), milliseconds(2000));

  nlohmann::json stats = stop_and_stats();
  EXPECT_NE(wait_peer_end(idle.get(), milliseconds(1000)), PeerEnd::kOpen);

  EXPECT_EQ(stats.value("schema", ""), "iomodels.server_stats/1");
  EXPECT_EQ(stats.value("model", ""), GetParam().name);
  ASSERT_TRUE(stats.contains("options") && stats["options"].is_object());
  EXPECT_EQ(stats["options"].value("protocol", ""), "echo");
  ASSERT_TRUE(stats.contains("counters") && stats["counters"].is_object());
  const auto& c = stats["counters"];
  for (const char* key : {"accepted", "rejected", "closed", "bytes_in", "bytes_out", "messages",
                          "protocol_errors", "wakeups", "events"}) {
    ASSERT_TRUE(c.contains(key) && c[key].is_number_unsigned()) << "counters." << key;
  }
  EXPECT_EQ(counter(stats, "accepted"), 4);
  EXPECT_EQ(counter(stats, "rejected"), 0);
  EXPECT_EQ(counter(stats, "closed"), 4) << "connections closed by the stop count too";
  EXPECT_GE(counter(stats, "bytes_in"), int64_t(msg.size() + 11));
  EXPECT_GE(counter(stats, "bytes_out"), int64_t(msg.size() + 11));
  EXPECT_GT(counter(stats, "wakeups"), 0);
  ASSERT_TRUE(c.contains("syscalls") && c["syscalls"].is_object() && !c["syscalls"].empty());
  ASSERT_TRUE(stats.contains("rusage") && stats["rusage"].is_object());
  for (const char* key : {"user_s", "sys_s", "max_rss_kb", "voluntary_ctxt_switches",
                          "involuntary_ctxt_switches"})
    EXPECT_TRUE(stats["rusage"].contains(key) && stats["rusage"][key].is_number()) << "rusage." << key;
  EXPECT_GT(stats["rusage"].value("max_rss_kb", 0), 0);
}

TEST_P(Conformance, SigintExitsCleanly) {
  start("http");
  Fd idle = connect_to(server().port());
  ExitStatus st = server().stop(SIGINT, kStopDeadline);
  EXPECT_TRUE(st.exited && st.exit_code == 0) << st.describe();
  EXPECT_NO_THROW(server().read_stats());
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Servers, Conformance, ::testing::ValuesIn(all_servers()),
                         [](const ::testing::TestParamInfo<ServerEntry>& p) { return p.param.name; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Conformance);

}  // namespace iomodels::test
