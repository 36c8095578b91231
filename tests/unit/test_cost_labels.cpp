// Saturation labels (harness/cost/round_cost.h): each round records both
// sides' busy fractions, and a case is labelled client_limited or
// co_saturated from them; loadgen_bound stays as their union. And the kernel
// syscall record's cross-check against the servers' own counters.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/cost/kernel_syscalls.h"
#include "harness/cost/round_cost.h"
#include "harness/run/paired.h"

namespace iomodels::harness::cost {
namespace {

using nlohmann::json;

json round_with(double loadgen_busy, double server_cpu_ns, double span_ns) {
  json rep = {{"status", "ok"}, {"round", 0}, {"flags", {{"loadgen_cpu_max", loadgen_busy}}}};
  add_saturation_labels(rep, server_cpu_ns, span_ns, 1);
  return rep;
}

TEST(CostLabels, BothSidesBusyIsCoSaturated) {
  json rep = round_with(0.97, 0.93e9, 1e9);
  EXPECT_TRUE(rep["flags"]["co_saturated"]);
  EXPECT_FALSE(rep["flags"]["client_limited"]);
  EXPECT_TRUE(rep["flags"]["loadgen_bound"]);
  EXPECT_DOUBLE_EQ(rep["busy"]["server"].get<double>(), 0.93);
  EXPECT_DOUBLE_EQ(rep["busy"]["loadgen"].get<double>(), 0.97);
}

TEST(CostLabels, BusyLoadgenAndIdleServerIsClientLimited) {
  json rep = round_with(0.95, 0.40e9, 1e9);
  EXPECT_TRUE(rep["flags"]["client_limited"]);
  EXPECT_FALSE(rep["flags"]["co_saturated"]);
  EXPECT_TRUE(rep["flags"]["loadgen_bound"]);
}

TEST(CostLabels, ThresholdsAreInclusiveAtNinetyAndEighty) {
  EXPECT_TRUE(round_with(0.90, 0.80e9, 1e9)["flags"]["co_saturated"]);
  EXPECT_TRUE(round_with(0.90, 0.79e9, 1e9)["flags"]["client_limited"]);
  json idle = round_with(0.89, 0.99e9, 1e9);
  EXPECT_FALSE(idle["flags"]["client_limited"]);
  EXPECT_FALSE(idle["flags"]["co_saturated"]);
  EXPECT_FALSE(idle["flags"]["loadgen_bound"]);
}

TEST(CostLabels, ServerBusyIsPerServerCpu) {
  json rep = {{"flags", {{"loadgen_cpu_max", 0.95}}}};
  add_saturation_labels(rep, 1.2e9, 1e9, 2);  // 1.2 CPU-seconds over 2 CPUs: 60% busy
  EXPECT_DOUBLE_EQ(rep["busy"]["server"].get<double>(), 0.6);
  EXPECT_TRUE(rep["flags"]["client_limited"]);
}

TEST(CostLabels, CaseIsLabelledFromItsRounds) {
  json cases = json::array();
  json c = {{"name", "epoll_lt/echo/c64/s64"}, {"server", "epoll_lt"}, {"flags", json::object()},
            {"aggregate", json::object()}, {"repetitions", json::array()}};
  for (int r = 0; r < 3; ++r) {
    json rep = round_with(0.97, r == 1 ? 0.5e9 : 0.92e9, 1e9);
    rep["round"] = r;
    c["repetitions"].push_back(rep);
  }
  cases.push_back(c);
  iomodels::harness::add_paired_ratios(cases);
  EXPECT_TRUE(cases[0]["flags"]["co_saturated"]);
  EXPECT_TRUE(cases[0]["flags"]["client_limited"]);
  EXPECT_EQ(cases[0]["flags"]["co_saturated_rounds"], 2);
  EXPECT_EQ(cases[0]["flags"]["client_limited_rounds"], 1);
  EXPECT_DOUBLE_EQ(aggregate_busy(cases[0]["repetitions"])["server"].get<double>(), 0.92);
}

TEST(KernelSyscallRecord, CrossCheckMapsNamesAndListsWhatTheServerCannotSee) {
  SyscallCounts window = {{"recvfrom", 1000}, {"sendto", 1000}, {"epoll_wait", 500}, {"getppid", 1000}};
  json server = {{"recv", 1000}, {"send", 995}, {"epoll_wait", 400}, {"aio_read", 7}};
  json r = syscalls_record(window, 1000, server);
  EXPECT_DOUBLE_EQ(r["total_per_message"].get<double>(), 3.5);
  EXPECT_DOUBLE_EQ(r["per_message"]["getppid"].get<double>(), 1.0);
  EXPECT_TRUE(r["cross_check"]["recvfrom"]["agree"]);
  EXPECT_TRUE(r["cross_check"]["sendto"]["agree"]);       // 0.5% apart
  EXPECT_FALSE(r["cross_check"]["epoll_wait"]["agree"]);  // 20% apart
  EXPECT_FALSE(r["cross_check"].contains("aio_read"));    // a library call, no syscall of its own
  EXPECT_EQ(r["server_unseen"], json::array({"getppid"}));
}

TEST(KernelSyscallRecord, MinusCountsFromZeroForNewNames) {
  SyscallCounts a = {{"read", 5}}, b = {{"read", 8}, {"write", 2}};
  SyscallCounts d = minus(b, a);
  EXPECT_EQ(d["read"], 3u);
  EXPECT_EQ(d["write"], 2u);
  EXPECT_EQ(total(d), 5u);
}

}  // namespace
}  // namespace iomodels::harness::cost
