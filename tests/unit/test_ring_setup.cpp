// The io_uring setup fallback chain (servers/ring_setup.h): a kernel that
// refuses a task-running flag gets the next setup down, ending at plain, so
// io_uring and io_uring_multishot run on 5.7-5.18 instead of exiting 2.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "servers/ring_setup.h"

namespace iomodels {
namespace {

struct FakeKernel {
  std::set<RingSetup> refused;  // answered -EINVAL
  int other_error = 0;          // a refusal that is not about the flags
  std::vector<RingSetup> tried;
  std::vector<std::pair<RingSetup, RingSetup>> notes;

  int run(RingSetup& s, bool sqpoll) {
    return create_with_fallback(
        s, sqpoll,
        [&](RingSetup x) {
          tried.push_back(x);
          if (other_error) return other_error;
          return refused.count(x) ? -EINVAL : 0;
        },
        [&](RingSetup from, RingSetup to) { notes.emplace_back(from, to); });
  }
};

TEST(RingSetupFallback, KernelWithoutTaskrunFlagsRunsPlain) {
  FakeKernel k{.refused = {RingSetup::kDefer, RingSetup::kCoop}};
  RingSetup s = RingSetup::kDefer;
  EXPECT_EQ(k.run(s, false), 0);
  EXPECT_EQ(s, RingSetup::kPlain);
  EXPECT_EQ(k.tried, (std::vector{RingSetup::kDefer, RingSetup::kCoop, RingSetup::kPlain}));
  ASSERT_EQ(k.notes.size(), 2u);  // each step is logged and counted by the caller
  EXPECT_EQ(k.notes[1], std::pair(RingSetup::kCoop, RingSetup::kPlain));
}

TEST(RingSetupFallback, KernelWithCoopOnlyStopsThere) {
  FakeKernel k{.refused = {RingSetup::kDefer}};
  RingSetup s = RingSetup::kDefer;
  EXPECT_EQ(k.run(s, false), 0);
  EXPECT_EQ(s, RingSetup::kCoop);
  EXPECT_EQ(k.notes.size(), 1u);
}

TEST(RingSetupFallback, CoopAskedForFallsBackToPlain) {
  FakeKernel k{.refused = {RingSetup::kCoop}};
  RingSetup s = RingSetup::kCoop;
  EXPECT_EQ(k.run(s, false), 0);
  EXPECT_EQ(s, RingSetup::kPlain);
}

TEST(RingSetupFallback, NoStepWithSqpollOrForOtherErrors) {
  FakeKernel sq{.refused = {RingSetup::kPlain}};
  RingSetup s = RingSetup::kPlain;
  EXPECT_EQ(sq.run(s, true), -EINVAL);  // plain itself refused: nothing below it
  EXPECT_EQ(sq.tried.size(), 1u);
  FakeKernel disabled{.other_error = -EPERM};  // kernel.io_uring_disabled: no setup helps
  s = RingSetup::kDefer;
  EXPECT_EQ(disabled.run(s, false), -EPERM);
  EXPECT_EQ(disabled.tried.size(), 1u);
  EXPECT_TRUE(disabled.notes.empty());
}

}  // namespace
}  // namespace iomodels
