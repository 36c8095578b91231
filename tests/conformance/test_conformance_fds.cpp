// Conformance, out of file descriptors with nothing to shed: no spin, no crash.
//
// The spare-fd trick sheds a pending connection by closing a reserved fd,
// accepting into the freed slot and closing again. Here that cannot work: the
// server's table is full at its limit, then RLIMIT_NOFILE drops below every fd
// number it holds, so accept fails (EMFILE), the freed spare slot is above the
// limit and reopening the spare fails too. A level-triggered loop that keeps
// its listener armed would spin; every model must pause its listener (~10 ms,
// counted in extra.accept_pauses) and serve the waiting peers once fds return.
//
// The server starts under prlimit with a small limit so the table can be
// filled: io_uring_multishot's multishot accept reads the limit when armed,
// so it too sees the full table.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

constexpr int kStartLimit = 64;
constexpr int kWaiting = 8;
constexpr milliseconds kExhausted{1000};

bool set_nofile(pid_t pid, rlim_t soft, rlim_t hard) {
  rlimit rl{soft, hard};
  return ::prlimit(pid, RLIMIT_NOFILE, &rl, nullptr) == 0;
}

TEST_P(Conformance, FdsExhaustedWithNothingToShedPausesTheListener) {
  if (std::string why = prlimit_missing(); !why.empty()) GTEST_SKIP() << why;
  // Hard limit too, so the server cannot raise its own (server_main raises the soft one).
  start_under({kPrlimitPath, "--nofile=" + std::to_string(kStartLimit)});
  const pid_t pid = server().pid();
  {  // serving first, so whatever it opens lazily is open before we count
    Fd warm = connect_to(server().port());
    ASSERT_TRUE(echoes(warm.get(), "warm"));
  }
  // Fill the table to the limit with served connections (the warm one's close
  // reaches the server asynchronously: count after it is gone).
  int held = -1;
  for (int i = 0; i < 50 && held != open_fd_count(pid); ++i) {
    held = open_fd_count(pid);
    std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_GT(held, 0) << "cannot read /proc/" << pid << "/fd";
  ASSERT_LT(held + 2 * kWaiting, kStartLimit);
  std::vector<Fd> fill;
  for (int i = 0; i < kStartLimit - held; ++i) {
    fill.push_back(connect_to(server().port()));
    ASSERT_TRUE(echoes(fill.back().get(), "fill " + std::to_string(i))) << i;
  }
  // Now below every fd it holds: nothing can be accepted, nothing shed. A model
  // that blocks in accept has already spent its spare on the full table (closed
  // it, and sits in accept holding that slot), so the first peer to arrive is
  // shed, as the spare-fd trick means to; from then on it too has nothing to
  // shed. The probe is that first peer: shed or served later, never left hanging.
  ASSERT_TRUE(set_nofile(pid, 3, kStartLimit)) << std::strerror(errno);
  const double cpu_before = process_cpu_s(pid);
  Fd probe = connect_to(server().port());
  ASSERT_TRUE(send_all(probe.get(), "p"));
  std::this_thread::sleep_for(milliseconds(50));
  std::vector<Fd> waiting;
  for (int i = 0; i < kWaiting; ++i) {
    waiting.push_back(connect_to(server().port()));  // the kernel completes the handshake: backlog
    ASSERT_TRUE(send_all(waiting.back().get(), "w" + std::to_string(i)));
  }
  std::this_thread::sleep_for(kExhausted);
  const double cpu_used = process_cpu_s(pid) - cpu_before;
  EXPECT_TRUE(server().running());
  // fds come back (raising a hard limit needs CAP_SYS_RESOURCE: the room comes
  // from closing some of the fill): the waiting peers are taken from the
  // backlog and served, by a listener watched again or a timer that re-checks
  // it (sigio).
  // Wait (bounded) until the server has closed its ends of the released fill,
  // so a model that closes asynchronously (blocking_threads' threads,
  // posix_aio's completions) does not meet a full table again on its next
  // accept. poll never gets there: poll(2) fails EINVAL while it watches more
  // fds than the limit, so it sees the EOFs once the limit is back, and its
  // scan closes them before it accepts.
  fill.resize(fill.size() - 2 * kWaiting);
  for (int i = 0; i < 150 && open_fd_count(pid) > kStartLimit - 2 * kWaiting; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  ASSERT_TRUE(set_nofile(pid, kStartLimit, kStartLimit)) << std::strerror(errno);
  for (int i = 0; i < kWaiting; ++i) {
    std::string msg = "w" + std::to_string(i);
    EXPECT_EQ(recv_exact(waiting[i].get(), msg.size(), kIo), msg) << "waiting peer " << i << " not served";
  }
  if (recv_exact(probe.get(), 1, kIo) != "p") {  // shed: the peer sees a close, not a hang
    char ch;
    ssize_t n = ::recv(probe.get(), &ch, 1, MSG_DONTWAIT);
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "probe neither served nor shed: " << n;
  }
  EXPECT_TRUE(echoes(fill.front().get(), "still served"));
  nlohmann::json stats = stop_and_stats();
  const nlohmann::json& c = stats.at("counters");
  uint64_t pauses = c.contains("extra") ? c["extra"].value("accept_pauses", uint64_t(0)) : 0;
  EXPECT_GE(pauses, 1u) << c.dump();
  // A loop that spins on the listener makes tens of thousands of accept calls
  // (and as many wakeups) in a second; a 10 ms pause makes about a hundred.
  EXPECT_LT(pauses, 1000u);
  EXPECT_LE(c.at("rejected").get<uint64_t>(), 1u) << "only the probe may be shed";
  if (GetParam().name == "nonblocking_spin") return;  // its passes call accept and spin by design
  const auto& sc = c.at("syscalls");
  uint64_t accepts = sc.value("accept", uint64_t(0)) + sc.value("accept4", uint64_t(0));
  EXPECT_LT(accepts, 2000u) << sc.dump();
  EXPECT_LT(c.at("wakeups").get<uint64_t>(), 3000u) << c.dump();
  EXPECT_LT(cpu_used, 0.5 * kExhausted.count() / 1000.0) << "CPU seconds used while out of fds";
}

// Started with stdin and stderr closed (a CI runner did this): the first
// sockets would take fds 0 and 2, log lines would go to a client, and a spare
// fd below 3 would shed peers it could serve. The server opens /dev/null there.
TEST_P(Conformance, StartedWithStandardFdsClosedKeepsSocketsOffThem) {
  start_under({"/bin/sh", "-c", "exec \"$@\" 0<&- 2>&-", "sh"});
  Fd c = connect_to(server().port());
  ASSERT_TRUE(echoes(c.get(), "hello"));
  for (int fd : {0, 2}) {
    std::string link = "/proc/" + std::to_string(server().pid()) + "/fd/" + std::to_string(fd);
    char target[256] = {};
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    ASSERT_GT(n, 0) << link << ": " << std::strerror(errno);
    EXPECT_STREQ(target, "/dev/null") << "fd " << fd;
  }
  stop_and_stats();
}

}  // namespace
}  // namespace iomodels::test
