// Conformance, fairness: one connection that always has data must not take the
// thread from a neighbour. A streamer writes 64 KiB chunks as fast as the
// server takes them while reading its echo; next to it a ping-pong connection
// sends 64 B and waits for the reply. A model that serves whoever is busy until
// it runs dry (drain-to-EAGAIN on a socket that never runs dry, a backlog that
// gives a busy fd one turn per signal) makes the ping-pong wait for the stream:
// sigio did this with a p99 of ~200 ms.
// On two shared cores most of a ping's latency is the CPU the stream takes
// (the server and the streamer each want a core), not the model. So the same
// stream first runs against a second instance of the model while we ping the
// first (the control: the same CPU load, nothing shared in the server), then
// against the first itself. The bound is 20 ms of the server's own time plus
// twice the control's p99: a server that is busy with the stream waits for the
// CPU like any busy thread, so when the box gave it only a share of a core
// during the pings the 20 ms are divided by that share (at most 4x). A loaded
// CI box moves both terms; a model that starves the neighbour fails.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kChunk = 64 * 1024;
constexpr int kPings = 300;
constexpr auto kFairBound = std::chrono::milliseconds(20);

// Writes 64 KiB chunks and reads the echo until told to stop (or the deadline),
// publishing the echoed byte count. Every echoed byte is checked.
struct Streamer {
  std::atomic<size_t> echoed{0};
  std::atomic<bool> stop{false};
  std::string error;

  void run(int fd, milliseconds deadline) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    const std::string chunk = pattern(kChunk, 42);  // the stream is this chunk repeated
    size_t sent = 0, got = 0;
    std::vector<char> buf(256 * 1024);
    for (auto end = Clock::now() + deadline; !stop.load() && Clock::now() < end;) {
      pollfd p{fd, short(POLLIN | POLLOUT), 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (p.revents & POLLOUT) {
        size_t off = sent % kChunk;
        ssize_t n = ::send(fd, chunk.data() + off, kChunk - off, MSG_NOSIGNAL);
        if (n > 0) sent += size_t(n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR) return fail("send: " + std::to_string(errno));
      }
      if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
        if (n == 0) return fail("the server closed the stream");
        if (n < 0) {
          if (errno == EAGAIN || errno == EINTR) continue;
          return fail("recv: " + std::to_string(errno));
        }
        for (size_t i = 0; i < size_t(n);) {  // the echo is the chunk repeated: compare run by run
          size_t off = got % kChunk, len = std::min(size_t(n) - i, kChunk - off);
          if (std::memcmp(buf.data() + i, chunk.data() + off, len) != 0)
            return fail("wrong echo bytes near " + std::to_string(got));
          i += len, got += len;
        }
        echoed.store(got);
      }
    }
  }
  void fail(std::string why) { error = std::move(why); }
};

// Round trips of 64 B on fd, 1 ms apart; the latencies, sorted. Empty on a failure.
std::vector<double> ping_ms(int fd, int count, std::string& why) {
  std::vector<double> ms;
  const std::string msg = pattern(64, 9);
  for (int i = 0; i < count; ++i) {
    auto t0 = Clock::now();
    if (!send_all(fd, msg) || recv_exact(fd, msg.size(), milliseconds(10000)) != msg) {
      why = "ping " + std::to_string(i) + " got no echo within 10 s";
      return {};
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    std::this_thread::sleep_for(milliseconds(1));
  }
  std::sort(ms.begin(), ms.end());
  return ms;
}

double p99(const std::vector<double>& sorted) { return sorted[sorted.size() * 99 / 100]; }

struct Phase {
  std::vector<double> ms;  // ping latencies, sorted; empty: failed (why)
  size_t streamed = 0;     // echo bytes the stream got while we pinged
  double cpu_share = 1;    // CPU the pinged server got during the pings / wall time (0..1)
  std::string why;
};

// utime + stime of a process, seconds (all its threads).
double process_cpu_s(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {  // fields 14 and 15 (1-based)
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(::sysconf(_SC_CLK_TCK));
}

// Streams to stream_port while pinging on `pinger` (its own connection to the
// server `pinged`).
Phase streaming_phase(uint16_t stream_port, int pinger, pid_t pinged) {
  Phase ph;
  Fd stream_fd = connect_to(stream_port);
  Streamer streamer;
  std::thread t([&] { streamer.run(stream_fd.get(), milliseconds(60000)); });
  auto flowing_by = Clock::now() + std::chrono::seconds(10);  // bounded wait until the stream really flows
  while (streamer.echoed.load() < (4u << 20) && streamer.error.empty() && Clock::now() < flowing_by)
    std::this_thread::sleep_for(milliseconds(1));
  const size_t before = streamer.echoed.load();
  const double cpu0 = process_cpu_s(pinged);
  const auto t0 = Clock::now();
  ph.ms = ping_ms(pinger, kPings, ph.why);
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  ph.cpu_share = std::clamp((process_cpu_s(pinged) - cpu0) / wall, 0.0, 1.0);
  ph.streamed = streamer.echoed.load() - before;
  streamer.stop.store(true);
  t.join();
  if (!streamer.error.empty()) ph.ms.clear(), ph.why = "stream: " + streamer.error;
  return ph;
}

TEST_P(Conformance, StreamingNeighbourLeavesPingPongP99Low) {
  start("echo");
  ServerProcess other = ServerProcess::start(GetParam().path, {"--protocol", "echo"});
  Fd pinger = connect_to(server().port());
  std::string why;
  ASSERT_FALSE(ping_ms(pinger.get(), 20, why).empty()) << why;  // warm: accepted, served

  // A single stall of the whole box (another job's burst) can land in one
  // attempt: the verdict is the majority of three (it stops at two alike).
  std::string report;
  int passed = 0, failed = 0;
  for (int attempt = 1; passed < 2 && failed < 2; ++attempt) {
    Phase control = streaming_phase(other.port(), pinger.get(), server().pid());
    ASSERT_FALSE(control.ms.empty()) << "control: " << control.why;
    Phase shared = streaming_phase(server().port(), pinger.get(), server().pid());
    ASSERT_FALSE(shared.ms.empty()) << shared.why;
    // Without a stream that flowed while we pinged the case proves nothing.
    ASSERT_GE(shared.streamed, kChunk) << "the stream echoed only " << shared.streamed << " bytes during the pings";
    const double share = std::max(shared.cpu_share, 0.25);
    const double bound = std::chrono::duration<double, std::milli>(kFairBound).count() / share + 2 * p99(control.ms);
    (p99(shared.ms) <= bound ? passed : failed) += 1;
    char line[256];
    std::snprintf(line, sizeof line,
                  "attempt %d: ping p99 %.2f ms (max %.2f) next to the stream (%zu KiB meanwhile, server had %.0f%% "
                  "of a CPU), %.2f ms with it on another instance: bound %.2f ms\n",
                  attempt, p99(shared.ms), shared.ms.back(), shared.streamed / 1024, 100 * shared.cpu_share,
                  p99(control.ms), bound);
    report += line;
    RecordProperty("shared_p99_us", int(p99(shared.ms) * 1000));
    RecordProperty("control_p99_us", int(p99(control.ms) * 1000));
  }
  EXPECT_EQ(other.stop().exit_code, 0);
  nlohmann::json stats = stop_and_stats();
  std::printf("%s: %sextra counters: %s\n", GetParam().name.c_str(), report.c_str(),
              stats.value("counters", nlohmann::json::object()).value("extra", nlohmann::json::object()).dump().c_str());
  EXPECT_GE(passed, 2) << GetParam().name << ": a streaming neighbour held up the ping-pong in " << failed
                       << " of " << passed + failed << " attempts\n"
                    << report << "server counters: " << stats.value("counters", nlohmann::json()).dump();
}

}  // namespace
}  // namespace iomodels::test
