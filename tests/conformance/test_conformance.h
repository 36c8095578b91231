// The conformance fixture: one GoogleTest suite, rerun for every server
// executable CMake built (like libevent reruns its regress suite per backend).
// Each case starts its own server on port 0 with a private stats file, so the
// cases are independent and a crash costs one case.
#pragma once
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace iomodels::test {

// docs/design.md ("Servers") promises an exit within 1 s of SIGTERM; CI runs 15 servers on two
// busy cores, so the test allows scheduling slack on top (it never asserts
// speed, only that the stop is prompt and clean). Under a sanitizer the
// runtime's own cost is not the server's (TSan runs code 5-15x slower and
// tears down its shadow memory at exit: a TSan epoll_reuseport holding 1,000
// peers' frames once took 2.3 s to stop in a loaded CI run), so the promptness
// is the release build's figure and there the stop only has to come, cleanly.
inline constexpr milliseconds kStopDeadline{kTsanBuild ? 8000 : kAsanBuild ? 4000 : 2000};
inline constexpr milliseconds kIo{10000};  // bound on any one exchange

class Conformance : public ::testing::TestWithParam<ServerEntry> {
 protected:
  ServerProcess& start(const std::string& protocol = "echo", std::vector<std::string> extra = {},
                       const StartOptions& opt = {}) {
    std::vector<std::string> args{"--protocol", protocol};
    args.insert(args.end(), extra.begin(), extra.end());
    server_.emplace(ServerProcess::start(GetParam().path, args, opt));
    return *server_;
  }
  // The same under a launcher that execs the server (e.g. {"/usr/bin/prlimit",
  // "--nofile=64"}): the pid stays the server's.
  ServerProcess& start_under(std::vector<std::string> launcher, const std::string& protocol = "echo") {
    std::vector<std::string> args(launcher.begin() + 1, launcher.end());
    for (const std::string& a : {GetParam().path, std::string("--protocol"), protocol}) args.push_back(a);
    server_.emplace(ServerProcess::start(launcher.front(), args));
    return *server_;
  }
  ServerProcess& server() { return *server_; }

  // SIGTERM, expect a clean exit, return the stats JSON (fails the test otherwise).
  nlohmann::json stop_and_stats() {
    ExitStatus st = server_->stop(SIGTERM, kStopDeadline);
    EXPECT_TRUE(st.exited && st.exit_code == 0) << GetParam().name << ": " << st.describe();
    try {
      return server_->read_stats();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "stats JSON: " << e.what();
      return nlohmann::json::object();
    }
  }

  // Echo `msg` on fd and compare, with a short diagnosis on failure.
  static ::testing::AssertionResult echoes(int fd, const std::string& msg, bool shut_wr = false) {
    ExchangeResult r = exchange(fd, msg, msg.size(), kIo, shut_wr);
    if (r.received == msg) return ::testing::AssertionSuccess();
    auto at = first_mismatch(r.received, msg);
    return ::testing::AssertionFailure()
           << "sent " << r.sent << "/" << msg.size() << " bytes, got " << r.received.size()
           << (r.eof ? " (peer closed)" : "") << (r.timed_out ? " (timed out)" : "")
           << (r.send_failed ? " (send failed)" : "") << ", first difference at byte " << at;
  }

  static int64_t counter(const nlohmann::json& stats, const char* name) {
    return stats.at("counters").at(name).get<int64_t>();
  }

 private:
  std::optional<ServerProcess> server_;
};

}  // namespace iomodels::test
