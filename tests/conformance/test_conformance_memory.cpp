// Conformance, memory bounded server-wide (--max-buffered-bytes).
//
// A thousand peers each send one 1 MiB frame and never read. Framed is
// store-and-forward: without a server-wide ceiling every connection stages
// its frame (2 MiB while the staging buffer doubles) and then holds the
// reply, a few GiB in all. With --max-buffered-bytes the server refuses the
// connections that grow past the budget (counted), so its peak RSS stays
// under the budget plus a fixed margin, and it still serves afterwards.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "core/protocol.h"
#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

using steady_clock = std::chrono::steady_clock;

constexpr int kPeers = 1000;
constexpr size_t kFrameBody = 1 << 20;  // --max-frame's default: the largest frame accepted
constexpr long kBudgetKb = 64 * 1024;
// What the budget does not count: a read buffer per connection that has read
// (libuv keeps one of kReadChunk per connection, blocking_threads a stack
// buffer per thread), malloc's fragmentation across arenas, one read past the
// budget per thread before the refusal. The baseline is taken once every peer
// is connected and has sent its frame's header, so structures per connection
// (a thread and its stack for blocking_threads) are already in it.
constexpr long kMarginKb = 32 * 1024 + kPeers * 64;
constexpr milliseconds kSendDeadline{30000};
constexpr milliseconds kStall{2000};

// Non-blocking, with small kernel buffers: the test must load the server, not
// the kernel (a thousand default send buffers would hold the frames there).
Fd open_peer(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  int small = 64 * 1024;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS)
    throw std::runtime_error("connect: " + std::string(std::strerror(errno)));
  return fd;
}

struct Peer {
  Fd fd;
  size_t sent = 0;
  bool failed = false;  // the server closed or reset it: refused
};

// Send every peer's frame up to byte `upto`, never reading, until each is
// there or failed, no progress for kStall, or kSendDeadline. Returns the
// peers still sending.
int send_frames(std::vector<Peer>& peers, const std::string& frame, size_t upto) {
  std::vector<pollfd> pfds;
  std::vector<size_t> idx;
  auto start = steady_clock::now(), progress = start;
  for (int round = 0; round < 100000; ++round) {
    pfds.clear();
    idx.clear();
    for (size_t i = 0; i < peers.size(); ++i)
      if (!peers[i].failed && peers[i].sent < upto) {
        pfds.push_back({peers[i].fd.get(), POLLOUT, 0});
        idx.push_back(i);
      }
    auto now = steady_clock::now();
    if (pfds.empty() || now - start > kSendDeadline || now - progress > kStall) break;
    if (::poll(pfds.data(), pfds.size(), 100) < 0 && errno != EINTR) break;
    for (size_t j = 0; j < pfds.size(); ++j) {
      if (pfds[j].revents == 0) continue;
      Peer& p = peers[idx[j]];
      ssize_t n = ::send(p.fd.get(), frame.data() + p.sent, upto - p.sent, MSG_NOSIGNAL);
      if (n > 0) {
        p.sent += size_t(n);
        progress = steady_clock::now();
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        p.failed = true;  // EPIPE, ECONNRESET: the server refused this one
        progress = steady_clock::now();
      }
    }
  }
  int left = 0;
  for (const Peer& p : peers) left += !p.failed && p.sent < upto;
  return left;
}

// Waits until the server has read `bytes` in all (SIGUSR1 snapshots), for as
// long as it makes progress: it gives up after kReadStall without a new byte
// read, or kReadDeadline in all. A fixed 10 s was not enough for
// blocking_threads under TSan, where each of the thousand threads it starts
// costs milliseconds: its CI run read the headers at a steady pace and was
// cut off at 11 s. A server that stops reading still fails within kReadStall.
constexpr milliseconds kReadStall{5000};
constexpr milliseconds kReadDeadline{90000};
bool server_read(ServerProcess& server, uint64_t bytes) {
  auto start = steady_clock::now(), progress = start;
  uint64_t seen = 0;
  for (int i = 0; i < 1000; ++i) {
    nlohmann::json s = server.snapshot();
    uint64_t read = s.at("counters").value("bytes_in", uint64_t(0));
    if (read >= bytes) return true;
    auto now = steady_clock::now();
    if (read > seen) seen = read, progress = now;
    if (now - progress > kReadStall || now - start > kReadDeadline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::printf("server read %llu of %llu bytes\n", (unsigned long long)seen, (unsigned long long)bytes);
  return false;
}

TEST_P(Conformance, ThousandUnreadFramesStayUnderBufferBudget) {
  if (raise_fd_limit() < uint64_t(kPeers) + 200) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << kPeers + 200;
#if defined(__SANITIZE_ADDRESS__)
  // ASan keeps freed blocks in a quarantine (256 MiB by default): refused
  // peers' frames would stay resident there. The server inherits this.
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  ::setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "quarantine_size_mb=8").c_str(), 1);
  start("framed", {"--max-buffered-bytes", std::to_string(kBudgetKb * 1024)});
  ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
#else
  start("framed", {"--max-buffered-bytes", std::to_string(kBudgetKb * 1024)});
#endif
  const std::string f = frame(pattern(kFrameBody, 21));
  std::vector<Peer> peers;
  peers.reserve(kPeers);
  for (int i = 0; i < kPeers; ++i) peers.push_back({open_peer(server().port())});
  ASSERT_EQ(send_frames(peers, f, kFrameHeaderBytes), 0);
  ASSERT_TRUE(server_read(server(), uint64_t(kPeers) * kFrameHeaderBytes)) << "the headers were not all read";
  long baseline = server().peak_rss_kb();
  ASSERT_GT(baseline, 0) << "cannot read /proc/PID/status";
  int still_sending = send_frames(peers, f, f.size());
  long peak = server().peak_rss_kb();
  int refused_seen = 0;
  for (const Peer& p : peers) refused_seen += p.failed;
  std::printf("%s: budget %ld KiB, peak RSS %ld KiB (baseline %ld KiB, growth %ld KiB), %d of %d peers refused, "
              "%d still sending\n",
              GetParam().name.c_str(), kBudgetKb, peak, baseline, peak - baseline, refused_seen, kPeers,
              still_sending);
  // The bound holds in the release build. Under a sanitizer RSS measures the
  // runtime more than the server (blocking_threads' 1,000 thread stacks alone
  // are 144 MiB under ASan; TSan shadows every byte): there the test checks
  // the behaviour below (refusals, no mis-served byte, still serving).
  if (!kAsanBuild && !kTsanBuild) {
    EXPECT_LT(peak - baseline, kBudgetKb + kMarginKb) << "peak RSS " << peak << " KiB, baseline " << baseline << " KiB";
  }
  EXPECT_TRUE(server().running());

  // A peer that kept its frame gets it back whole (nothing mis-served), then
  // the others go, the budget is given back, and a new 1 MiB frame is served.
  for (Peer& p : peers) {
    if (p.failed || p.sent < f.size()) continue;
    ExchangeResult r = exchange(p.fd.get(), "", f.size(), kIo);
    if (r.received.size() < f.size()) continue;  // refused after its last send
    EXPECT_EQ(first_mismatch(r.received, f), std::string::npos);
    break;
  }
  peers.clear();
  bool served = false;
  for (int attempt = 0; attempt < 10 && !served; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(milliseconds(300));  // closes still being seen
    Fd fresh = connect_to(server().port());
    ExchangeResult r = exchange(fresh.get(), f, f.size(), kIo);
    served = r.received.size() == f.size() && first_mismatch(r.received, f) == std::string::npos;
  }
  EXPECT_TRUE(served) << "no 1 MiB frame served once the peers left";
  nlohmann::json stats = stop_and_stats();
  const auto& c = stats.value("counters", nlohmann::json::object());
  uint64_t refusals = c.contains("extra") ? c["extra"].value("buffer_budget_refusals", uint64_t(0)) : 0;
  // A kept peer holds its reply until the kernel takes it (socket buffers are
  // not in the budget, so somewhat more than budget / 1 MiB may be kept);
  // most peers must have been refused (or turned away at accept).
  uint64_t turned_away = refusals + c.value("rejected", uint64_t(0));
  EXPECT_GE(turned_away, uint64_t(kPeers / 2)) << c.dump();
}

// A budget that is not a positive byte count is a usage error naming the option.
TEST_P(Conformance, BadMaxBufferedBytesExitsTwoNamingIt) {
  for (const char* bad : {"0", "-5", "lots"}) {
    // A usage error exits before listening (stderr folded in).
    CommandOutput r = run_command(GetParam().path + " --port 0 --max-buffered-bytes " + bad + " 2>&1");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find("max-buffered-bytes"), std::string::npos) << bad << ": " << r.output;
  }
}

}  // namespace
}  // namespace iomodels::test
