// The deterministic tier's verdict (harness/ab_deterministic.h) on
// hand-built cost documents: each threshold just under and just over, a new
// syscall name, sides that lack a figure, and Perf-accepted per tier.
#include <gtest/gtest.h>

#include <sstream>

#include "harness/ab_deterministic.h"

namespace iomodels::harness {
namespace {

using nlohmann::json;

json cost(double instr, json syscalls, double allocs = 0) {
  return {{"callgrind", {{"instructions_per_message", instr}}},
          {"kernel_syscalls", {{"per_message", syscalls}}},
          {"allocations_per_message", allocs}};
}
const json kEpollLt = {{"epoll_wait", 0.3}, {"recvfrom", 1.0}, {"sendto", 1.0}};

const json& named(const json& v, const std::string& n) {
  for (const auto& c : v["cases"])
    if (c["name"] == n) return c;
  throw std::runtime_error("no case " + n);
}

TEST(AbDeterministic, SameCostsAreOk) {
  json b = {{"deterministic/epoll_lt/c1", cost(330, kEpollLt)}};
  json v = judge_deterministic(b, b, {});
  EXPECT_EQ(v["summary"]["regressions"], 0);
  EXPECT_EQ(v["summary"]["gated"], 1);
  EXPECT_EQ(named(v, "deterministic/epoll_lt/c1")["verdict"], "ok");
}

TEST(AbDeterministic, InstructionsPastOnePercent) {
  json b = {{"a", cost(1000, kEpollLt)}, {"b", cost(1000, kEpollLt)}};
  json h = {{"a", cost(1011, kEpollLt)}, {"b", cost(1009, kEpollLt)}};
  json v = judge_deterministic(b, h, {});
  EXPECT_EQ(named(v, "a")["verdict"], "regression");
  EXPECT_NE(named(v, "a")["reasons"][0].get<std::string>().find("instructions"), std::string::npos);
  EXPECT_EQ(named(v, "b")["verdict"], "ok") << "+0.9% is under the threshold";
  EXPECT_EQ(judge_deterministic(h, b, {})["summary"]["regressions"], 0) << "fewer instructions is no regression";
}

// getppid() per recv: a name base never made, at one per message.
TEST(AbDeterministic, ANewSyscallIsFlaggedByName) {
  json with = kEpollLt;
  with["getppid"] = 1.0;
  json v = judge_deterministic({{"e", cost(330, kEpollLt)}}, {{"e", cost(330, with)}}, {});
  EXPECT_EQ(named(v, "e")["verdict"], "regression");
  EXPECT_NE(named(v, "e")["reasons"][0].get<std::string>().find("new syscall getppid"), std::string::npos);
  json faint = kEpollLt;
  faint["getppid"] = 0.009;  // below 0.01 per message: start-up noise, not per-message work
  EXPECT_EQ(named(judge_deterministic({{"e", cost(330, kEpollLt)}}, {{"e", cost(330, faint)}}, {}), "e")["verdict"],
            "ok");
}

TEST(AbDeterministic, MoreOfAKnownSyscallFromTwoHundredthsPerMessage) {
  json more = kEpollLt, less_than = kEpollLt;
  more["epoll_wait"] = 0.32;
  less_than["epoll_wait"] = 0.315;
  EXPECT_EQ(named(judge_deterministic({{"e", cost(330, kEpollLt)}}, {{"e", cost(330, more)}}, {}), "e")["verdict"],
            "regression");
  EXPECT_EQ(
      named(judge_deterministic({{"e", cost(330, kEpollLt)}}, {{"e", cost(330, less_than)}}, {}), "e")["verdict"],
      "ok");
}

TEST(AbDeterministic, AllocationsFromOneHundredthPerMessage) {
  json v = judge_deterministic({{"a", cost(330, kEpollLt, 0.0)}, {"b", cost(330, kEpollLt, 0.0)}},
                               {{"a", cost(330, kEpollLt, 0.01)}, {"b", cost(330, kEpollLt, 0.009)}}, {});
  EXPECT_EQ(named(v, "a")["verdict"], "regression");
  EXPECT_EQ(named(v, "b")["verdict"], "ok");
}

TEST(AbDeterministic, MissingFiguresAreNotGated) {
  json none = {{"callgrind", {{"unavailable", "valgrind not found"}}},
               {"kernel_syscalls", {{"unavailable", "perf_event_paranoid"}}}};
  json v = judge_deterministic({{"a", none}}, {{"a", cost(2000, kEpollLt, 5)}, {"n", cost(1, kEpollLt)}}, {});
  EXPECT_EQ(named(v, "a")["verdict"], "not gated");
  EXPECT_EQ(named(v, "n")["verdict"], "not gated") << "new in head";
  EXPECT_EQ(v["summary"]["regressions"], 0);
  EXPECT_EQ(v["summary"]["gated"], 0);
}

// Perf-accepted per tier: the pattern names the tier, so the same trailer
// does not let the capacity tier's case through (and vice versa).
TEST(AbDeterministic, PerfAcceptedNamesTheTier) {
  auto acc = parse_perf_accepted("x\n\nPerf-accepted: deterministic/epoll_lt/*: one getppid per recv, on purpose\n"
                                 "Perf-accepted: epoll_lt/*: capacity only\n");
  json with = kEpollLt;
  with["getppid"] = 1.0;
  json v = judge_deterministic({{"deterministic/epoll_lt/c1", cost(330, kEpollLt)}, {"deterministic/poll/c1", cost(330, kEpollLt)}},
                               {{"deterministic/epoll_lt/c1", cost(330, with)}, {"deterministic/poll/c1", cost(330, with)}},
                               acc);
  EXPECT_EQ(named(v, "deterministic/epoll_lt/c1")["verdict"], "accepted");
  EXPECT_EQ(named(v, "deterministic/epoll_lt/c1")["accepted_reason"], "one getppid per recv, on purpose");
  EXPECT_EQ(named(v, "deterministic/poll/c1")["verdict"], "regression");
  EXPECT_EQ(v["summary"]["regressions"], 1);
  EXPECT_EQ(v["summary"]["accepted"], 1);
  std::ostringstream table;
  print_deterministic(v, table);
  EXPECT_NE(table.str().find("1 regression"), std::string::npos) << table.str();
}

}  // namespace
}  // namespace iomodels::harness
