// Loadgen accounting against servers that misbehave on purpose: every request
// of the window ends as a good reply, a bad reply, lost or unsent, exactly
// once; the window (and its --notify-fd lines) opens after connects, the
// accept storm and warmup. Counts are asserted exactly where the scenario
// fixes them; times only with wide margins (this runs on a busy machine).
#include <gtest/gtest.h>

#include <regex>

#include "loadgen/result.h"
#include "test_loadgen_util.h"

namespace iomodels::test {
namespace {

using nlohmann::json;

uint64_t u(const json& j) { return j.get<uint64_t>(); }

// requests + bad replies + lost + unsent == what was issued; the histogram
// holds the good replies and the lost ones.
void expect_every_request_ends_once(const json& r) {
  const json& s = r["summary"];
  EXPECT_EQ(u(s["sent"]), u(s["requests"]) + u(s["lost"]["total"]) + u(s["errors"]["mismatch"]) +
                              u(s["errors"]["http_status"]));
  EXPECT_EQ(u(r["histogram"]["count"]), u(s["requests"]) + u(s["lost"]["total"]));
  uint64_t sum = 0;
  for (auto& [k, v] : s["lost"].items())
    if (k != "total") sum += u(v);
  EXPECT_EQ(sum, u(s["lost"]["total"]));
}

struct Window {
  uint64_t start = 0, end = 0;
  bool ok = false;
};

// Exactly "window_start N\nwindow_end M\n" and nothing else.
Window read_window(const std::string& path) {
  std::string text = read_file(path);
  std::smatch m;
  Window w;
  if (!std::regex_match(text, m, std::regex("window_start ([0-9]+)\nwindow_end ([0-9]+)\n"))) {
    ADD_FAILURE() << "notify fd got: '" << text << "'";
    return w;
  }
  w.start = std::stoull(m[1]);
  w.end = std::stoull(m[2]);
  w.ok = true;
  return w;
}

TEST(LoadgenWindow, NotifyFdAnnouncesTheWindowAfterTheAcceptStorm) {
  // A slow accept loop: 3000 idle connections take the server ~0.3 s or
  // more to accept after the loadgen's connects have all completed.
  TestServerOptions o;
  o.accepts_per_ms = 10;
  TestEchoServer server(o);
  std::string notify = temp_dir() + "/notify.txt";
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 4 --idle-connections 3000 -d 300ms --timeout 20s --progress off"
                             " --notify-fd 3 3>" + notify);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  Window w = read_window(notify);
  ASSERT_TRUE(w.ok);
  const json& s = r.result["summary"];
  EXPECT_EQ(u(s["window"]["start_ns"]), w.start);
  EXPECT_EQ(u(s["window"]["end_ns"]), w.end);
  EXPECT_EQ(w.end - w.start, 300'000'000u);  // a duration window ends on the dot
  EXPECT_EQ(s["accept_queue"], "empty");
  EXPECT_EQ(server.accepted(), 3004u);
  EXPECT_LT(server.last_accept_ns(), w.start) << "an accept fell inside the window";
  EXPECT_GE(server.first_data_ns(), w.start) << "a request went out before the window (no warmup)";
  EXPECT_GT(u(s["requests"]), 0u);
  expect_every_request_ends_once(r.result);
}

TEST(LoadgenWindow, WarmupIsExcluded) {
  // The server stops for 2 s when the first request arrives: inside a 3 s
  // warmup it must leave no trace; without warmup it is the tail. (2 s: far
  // beyond any hiccup of a loaded test machine.)
  TestServerOptions o;
  o.stall_once_ms = 2000;
  TestEchoServer warm(o), cold(o);
  std::string notify = temp_dir() + "/warm.txt";
  LoadgenRun a = run_loadgen("--target " + warm.target() + " -c 2 --warmup 3s -d 300ms --progress off"
                             " --notify-fd 3 3>" + notify);
  ASSERT_EQ(a.exit_code, 0) << a.stderr_text;
  Window w = read_window(notify);
  ASSERT_TRUE(w.ok);
  EXPECT_GE(w.start - warm.first_data_ns(), 2'900'000'000u);  // the window opened after the warmup
  EXPECT_LT(a.result["latency_us"]["max"].get<double>(), 1'900'000.0);
  EXPECT_GT(a.result["summary"]["requests"].get<uint64_t>(), 0u);
  EXPECT_EQ(a.result["summary"]["duration_s"], 0.3);
  LoadgenRun b = run_loadgen("--target " + cold.target() + " -c 2 -d 300ms --progress off");
  ASSERT_EQ(b.exit_code, 0) << b.stderr_text;
  EXPECT_GE(b.result["latency_us"]["max"].get<double>(), 1'990'000.0);
}

// Several worker threads (the part the CI runs under TSan): they share the
// window, the open-loop schedule and a stop signal, and their counts merge.
TEST(LoadgenThreads, FourThreadsShareTheWindowAndAStop) {
  TestEchoServer server;
  std::string notify = temp_dir() + "/threads.txt";
  LoadgenRun r = run_loadgen("--target " + server.target() +
                                 " -c 8 -t 4 --rate 2000 --pipeline 2 --warmup 200ms -d 30s --progress off"
                                 " --notify-fd 3 3>" + notify,
                             60, /*interrupt_after_s=*/2.0);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  Window w = read_window(notify);
  ASSERT_TRUE(w.ok);
  const json& s = r.result["summary"];
  EXPECT_EQ(r.result["config"]["threads"], 4);
  EXPECT_EQ(u(s["window"]["start_ns"]), w.start);
  EXPECT_EQ(u(s["window"]["end_ns"]), w.end);
  EXPECT_LT(w.end - w.start, 20'000'000'000u) << "the stop signal did not end the window";
  EXPECT_GT(u(s["requests"]), 0u);
  EXPECT_EQ(total_errors(r.result), 0u) << r.stderr_text;
  expect_every_request_ends_once(r.result);
}

TEST(LoadgenLost, ServerThatStopsAnsweringOneConnectionOf16) {
  TestServerOptions o;
  o.hang_connection = 5;
  TestEchoServer server(o);
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 16 --pipeline 4 -d 1.5s --timeout 500ms --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json& s = r.result["summary"];
  // One timeout, and with it the 4 requests that connection had out: each
  // counted, each in the histogram at >= 500 ms; the reopened socket is served.
  EXPECT_EQ(u(s["errors"]["timeout"]), 1u) << r.stderr_text;
  EXPECT_EQ(u(s["lost"]["timeout"]), 4u);
  EXPECT_EQ(u(s["lost"]["total"]), 4u);
  EXPECT_EQ(u(s["unsent"]), 0u);
  EXPECT_GE(r.result["latency_us"]["max"].get<double>(), 500'000.0);
  EXPECT_GT(u(s["requests"]), 1000u);
  expect_every_request_ends_once(r.result);
}

TEST(LoadgenLost, RequestsInFlightAtAStopAreLostAtEndOfRun) {
  TestServerOptions o;
  o.hang_connection = 0;
  TestEchoServer server(o);
  LoadgenRun r = run_loadgen("--target " + server.target() +
                                 " -c 4 --pipeline 3 -d 30s --timeout 20s --progress off",
                             60, /*interrupt_after_s=*/1.5);
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json& s = r.result["summary"];
  EXPECT_GE(u(s["lost"]["end_of_run"]), 3u);  // the hung connection's, at least
  EXPECT_EQ(u(s["lost"]["timeout"]), 0u);
  EXPECT_EQ(u(s["requests_unfinished"]), u(s["lost"]["end_of_run"]));
  EXPECT_LT(s["duration_s"].get<double>(), 10.0);
  expect_every_request_ends_once(r.result);
}

TEST(LoadgenLost, Non2xxRepliesAreErrorsNotRequests) {
  TestServerOptions o;
  o.http_503 = true;
  TestEchoServer server(o);
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " --protocol http -c 2 --pipeline 2 -n 300 -d 0 --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json& s = r.result["summary"];
  EXPECT_EQ(u(s["errors"]["http_status"]), 300u);
  EXPECT_EQ(u(s["requests"]), 0u);
  EXPECT_EQ(loadgen::stored_figures(r.result).requests_per_s, 0.0);
  EXPECT_EQ(u(r.result["histogram"]["count"]), 0u);
  expect_every_request_ends_once(r.result);
}

TEST(LoadgenOpenLoopSaturation, HungConnectionLeavesItsShareUnsent) {
  // Two connections at 1000 req/s, one request outstanding each: the hung
  // one sends once, then its half of the schedule falls due and cannot go.
  TestServerOptions o;
  o.hang_connection = 1;
  TestEchoServer server(o);
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 2 --rate 1000 --pipeline 1 -d 1s --timeout 2s --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json& s = r.result["summary"];
  const json& ol = s["open_loop"];
  EXPECT_EQ(u(ol["due"]), u(s["sent"]) + u(s["unsent"]));  // every due request: sent or unsent
  // Fixed by the schedule, however late our own loop ran: 1 s at 1000/s.
  EXPECT_NEAR(ol["due"].get<double>(), 1000.0, 1.0);
  EXPECT_GE(u(s["unsent"]), 450u);
  EXPECT_EQ(u(s["lost"]["timeout"]), 1u);
  EXPECT_LT(ol["achieved_rate"].get<double>(), 0.98 * ol["target_rate"].get<double>());
  expect_every_request_ends_once(r.result);
}

TEST(LoadgenOpenLoopSaturation, ScheduleLagIsAHistogram) {
  TestEchoServer server(/*stall_ms=*/200, /*period_ms=*/500);
  LoadgenRun r = run_loadgen("--target " + server.target() +
                             " -c 2 --rate 1000 --pipeline 1 -d 1s --progress off");
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json& lag = r.result["schedule_lag_us"];
  EXPECT_EQ(u(lag["count"]), u(r.result["summary"]["sent"]));
  // Requests due during a stall go out when it ends: up to 200 ms late.
  EXPECT_GE(lag["max"].get<double>(), 100'000.0);
  EXPECT_LE(lag["p50"].get<double>(), lag["p99"].get<double>());
  EXPECT_GT(u(r.result["summary"]["open_loop"]["deferred_sends"]), 0u);
  EXPECT_GT(r.result["summary"]["loadgen_thread_cpu_max"].get<double>(), 0.0);
  EXPECT_LE(r.result["summary"]["loadgen_thread_cpu_max"].get<double>(), 1.05);
}

}  // namespace
}  // namespace iomodels::test
