// Conformance over IPv6: every server listens on ::1 when asked, and on ::
// for both families at once (dual-stack), through the shared listener code
// or, for the models that wrap the listener in a library (asio), in that
// library's view of it. One echo exchange each: what differs between the
// families is the socket address, not the model's loop.
#include <string>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

ConnectOptions over(const std::string& host) {
  ConnectOptions o;
  o.host = host;
  return o;
}

TEST_P(Conformance, EchoOverIpv6Loopback) {
  if (ipv6_loopback_missing()) GTEST_SKIP() << "this kernel has no IPv6 loopback (ipv6 disabled)";
  start("echo", {"--bind", "::1"});
  EXPECT_EQ(server().address(), "[::1]:" + std::to_string(server().port()));
  Fd c = connect_to(server().port(), over("[::1]"));
  EXPECT_TRUE(echoes(c.get(), pattern(64 * 1024, 6)));
  nlohmann::json stats = stop_and_stats();
  EXPECT_EQ(stats["options"]["bind"], "::1");
  EXPECT_EQ(counter(stats, "accepted"), 1);
}

TEST_P(Conformance, DualStackServesBothFamilies) {
  if (ipv6_loopback_missing()) GTEST_SKIP() << "this kernel has no IPv6 loopback (ipv6 disabled)";
  start("echo", {"--bind", "::"});
  Fd v4 = connect_to(server().port(), over("127.0.0.1"));
  Fd v6 = connect_to(server().port(), over("[::1]"));
  EXPECT_TRUE(echoes(v4.get(), pattern(1000, 4)));
  EXPECT_TRUE(echoes(v6.get(), pattern(1000, 6)));
  EXPECT_EQ(counter(stop_and_stats(), "accepted"), 2);
}

}  // namespace
}  // namespace iomodels::test
