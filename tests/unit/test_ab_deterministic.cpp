// The deterministic tier's verdict (harness/gate/ab_deterministic.h) on
// hand-built cost documents: each threshold just under and just over, a new
// syscall name, sides that lack a figure, and Perf-accepted per tier.
#include <gtest/gtest.h>

#include <sstream>

#include "harness/gate/ab_deterministic.h"

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

// A flagged case is measured again: it stays a regression only when base
// agrees with itself and head is flagged again.
TEST(AbDeterministic, AFlagThatRepeatsOnAStableBaseIsConfirmed) {
  json with = kEpollLt;
  with["getppid"] = 1.0;
  const json b = {{"e", cost(330, kEpollLt)}}, h = {{"e", cost(360, with)}};
  json v = confirm_deterministic(judge_deterministic(b, h, {}), b, h, b, {});
  EXPECT_EQ(named(v, "e")["verdict"], "regression");
  EXPECT_EQ(named(v, "e")["confirmed"], true);
  EXPECT_EQ(v["summary"]["regressions"], 1);
  EXPECT_EQ(v["summary"]["gated"], 1);
}

// A spinning server's EAGAIN recvs per message follow the timing: base
// measured twice disagrees, so the figure is reported, not gated.
TEST(AbDeterministic, AFigureThatMovesBetweenTwoBaseRunsIsNotGated) {
  json spin1 = kEpollLt, spin2 = kEpollLt, spin_head = kEpollLt;
  spin1["recvfrom"] = 40.0;
  spin2["recvfrom"] = 55.0;
  spin_head["recvfrom"] = 60.0;
  const json b1 = {{"s", cost(330, spin1)}}, b2 = {{"s", cost(330, spin2)}}, h = {{"s", cost(330, spin_head)}};
  json v = confirm_deterministic(judge_deterministic(b1, h, {}), b2, h, b1, {});
  EXPECT_EQ(named(v, "s")["verdict"], "not gated");
  EXPECT_NE(named(v, "s")["reasons"][0].get<std::string>().find("base varies between two runs"), std::string::npos);
  EXPECT_EQ(v["summary"]["regressions"], 0);
  EXPECT_EQ(v["summary"]["gated"], 0);
}

TEST(AbDeterministic, AFlagThatDoesNotRepeatIsOk) {
  json more = kEpollLt;
  more["sendto"] = 1.5;
  const json b = {{"e", cost(330, kEpollLt)}};
  json v = confirm_deterministic(judge_deterministic(b, {{"e", cost(330, more)}}, {}), b, b, b, {});
  EXPECT_EQ(named(v, "e")["verdict"], "ok");
  EXPECT_NE(named(v, "e")["reasons"][0].get<std::string>().find("not reproduced"), std::string::npos);
  EXPECT_EQ(v["summary"]["regressions"], 0);
  EXPECT_EQ(v["summary"]["gated"], 1);
}

TEST(AbDeterministic, AConfirmedAcceptedCaseStaysAccepted) {
  json with = kEpollLt;
  with["getppid"] = 1.0;
  const json b = {{"deterministic/epoll_lt/echo/c1/s64", cost(330, kEpollLt)}};
  const json h = {{"deterministic/epoll_lt/echo/c1/s64", cost(330, with)}};
  const std::vector<Accepted> ok = {{"deterministic/epoll_lt/*", "a probe on purpose"}};
  json v = confirm_deterministic(judge_deterministic(b, h, ok), b, h, b, ok);
  EXPECT_EQ(named(v, "deterministic/epoll_lt/echo/c1/s64")["verdict"], "accepted");
  EXPECT_EQ(v["summary"]["accepted"], 1);
  EXPECT_EQ(v["summary"]["regressions"], 0);
}

}  // namespace
}  // namespace iomodels::harness
