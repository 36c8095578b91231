// Conformance, one connection's trouble stays its own.
//
// 1. Lingering close after a buffer-budget refusal. The budget refuses a
//    connection that grew (--max-buffered-bytes 1), and the peer may still be
//    sending. Closing with unread bytes sends a RST, so the model lingers as
//    for a 400: FIN, then reads and drops until the peer's EOF. (The echo
//    case of io_uring_multishot, whose zero-copy echo bypasses Connection, is
//    in test_io_uring_multishot.cpp.)
// 2. A per-connection setup call that fails (fixtures/fail_setup.cpp,
//    preloaded: ENOMEM for the peer 127.0.0.2 only) costs that connection,
//    never the server: it is closed (counted in unexpected_errors) or served
//    anyway (a best-effort TCP_NODELAY), never left hanging, and the others
//    are served before and after.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "test_paths.inc"
#include "tests/conformance/test_conformance.h"

namespace iomodels::test {
namespace {

int64_t extra_counter(const nlohmann::json& stats, const char* name) {
  const nlohmann::json& c = stats.at("counters");
  return c.contains("extra") ? c["extra"].value(name, int64_t(0)) : 0;
}

// The peer sends `burst` at once, reads until the server's end, then sends a
// byte every 50 ms: the server must have sent a FIN (not a RST), and still
// be draining (no RST for those bytes either). Returns what came back.
std::string refused_peer_sees_fin(uint16_t port, const std::string& burst) {
  Fd c = connect_to(port);
  EXPECT_TRUE(send_all(c.get(), burst));
  std::string echoed;
  PeerEnd end = wait_peer_end(c.get(), kIo, &echoed);
  EXPECT_EQ(end, PeerEnd::kClosed) << "refused: a FIN was owed, got " << peer_end_name(end);
  if (end != PeerEnd::kClosed) return echoed;
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_EQ(::send(c.get(), "z", 1, MSG_NOSIGNAL), 1) << "send " << i << ": " << std::strerror(errno);
  }
  std::this_thread::sleep_for(milliseconds(50));
  char ch;
  ssize_t n = ::recv(c.get(), &ch, 1, MSG_DONTWAIT);
  EXPECT_EQ(n, 0) << "after the FIN: " << (n < 0 ? std::strerror(errno) : "data");
  c.reset();  // our EOF ends the linger
  std::this_thread::sleep_for(milliseconds(100));
  return echoed;
}

void expect_one_clean_refusal(const nlohmann::json& stats) {
  EXPECT_EQ(extra_counter(stats, "buffer_budget_refusals"), 1) << stats.dump();
  EXPECT_EQ(stats.at("counters").at("peer_resets"), 0) << "the refused connection ended in a reset: " << stats.dump();
  EXPECT_EQ(stats.at("counters").at("unexpected_errors"), 0) << stats.dump();
  EXPECT_EQ(stats.at("counters").at("accepted"), 1);
  EXPECT_EQ(stats.at("counters").at("closed"), 1);
}

// Framed stages a frame until it is whole: past the budget's free 16 KiB
// (buffer_budget.h) every model refuses it, whatever its read size, with the
// rest of the frame (less than the 64 KiB a linger drains: a model that
// reads 4 KiB at a time is refused at its first read) still unread.
TEST_P(Conformance, BudgetRefusalLingersWithFinNotReset) {
  start("framed", {"--max-buffered-bytes", "1"});
  std::string echoed = refused_peer_sees_fin(server().port(), frame(pattern(60 * 1000, 22)));
  EXPECT_EQ(echoed, "") << "a refused frame was answered";
  expect_one_clean_refusal(stop_and_stats());
}

// A client socket whose source address is 127.0.0.2: the fixture's victim.
Fd connect_from_victim(uint16_t port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  from.sin_addr.s_addr = htonl(0x7f000002);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
    throw std::runtime_error("connect from 127.0.0.2: " + std::string(std::strerror(errno)));
  return fd;
}

int lines_in(const std::string& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST_P(Conformance, ConnectionSetupFailureCostsThatConnectionOnly) {
  // Under TSan the preloaded calls are not interposed (the runtime's own
  // interceptors come first): the release and ASan builds run this.
  if (kTsanBuild) GTEST_SKIP() << "LD_PRELOAD fixtures are not interposed in a TSan build";
  std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
  for (const char* call : {"setsockopt", "fcntl", "ioctl", "epoll_ctl"}) {
    // libuv aborts the process when its epoll_ctl fails (uv__io_poll: "if
    // (errno != EEXIST) abort()"): a property of the library, said in
    // docs/models.md, which no model code can catch.
    if (GetParam().name == "libuv" && std::string(call) == "epoll_ctl") continue;
    SCOPED_TRACE(call);
    const std::string mark = ::testing::TempDir() + "fail_setup_" + GetParam().name + "_" + call;
    std::remove(mark.c_str());
    StartOptions opt;
    opt.env = {"LD_PRELOAD=" IOMODELS_fixture_fail_setup_PATH, std::string("FAIL_SETUP_CALL=") + call,
               "FAIL_SETUP_MARK=" + mark,
               // The fixture comes before the ASan runtime in the preload order.
               "ASAN_OPTIONS=" + asan + (asan.empty() ? "" : ":") + "verify_asan_link_order=0"};
    start("echo", {}, opt);
    Fd before = connect_to(server().port());
    ASSERT_TRUE(echoes(before.get(), "before"));
    Fd victim = connect_from_victim(server().port());
    ::send(victim.get(), "v", 1, MSG_NOSIGNAL);  // may fail: the server may have closed it
    const bool served = recv_exact(victim.get(), 1, kIo) == "v";
    const PeerEnd end = served ? PeerEnd::kOpen : wait_peer_end(victim.get(), milliseconds(2000));
    const bool victim_closed = end != PeerEnd::kOpen;
    // Served, or closed: a connection left hanging (unwatched, its data never
    // read) is the failure, and so is a server that stopped.
    EXPECT_TRUE(served || victim_closed) << "victim neither served nor closed";
    if (served) {
      EXPECT_TRUE(echoes(victim.get(), "served anyway"));
    }
    EXPECT_TRUE(server().running());
    EXPECT_TRUE(echoes(before.get(), "still served"));
    Fd after = connect_to(server().port());
    EXPECT_TRUE(echoes(after.get(), "after"));
    const int injected = lines_in(mark);
    nlohmann::json stats = stop_and_stats();
    std::printf("%s, %s: %d failure(s) injected, victim %s, unexpected_errors %lld\n", GetParam().name.c_str(),
                call, injected, victim_closed ? "closed" : "served", (long long)counter(stats, "unexpected_errors"));
    // Every model sets TCP_NODELAY on each connection it accepts.
    if (std::string(call) == "setsockopt") {
      EXPECT_GE(injected, 1) << "the fixture was not interposed";
    }
    // A victim closed is counted: as an unexpected error, or (asio, whose
    // accept completes with the registration's ENOMEM) as an accept failure
    // the accept policy answers with a pause (extra.accept_pauses).
    if (injected > 0 && victim_closed) {
      EXPECT_GE(counter(stats, "unexpected_errors") + extra_counter(stats, "accept_pauses"), 1) << stats.dump();
    }
    if (injected == 0) {
      EXPECT_FALSE(victim_closed) << "closed with nothing failed";
    }
    std::remove(mark.c_str());
  }
}

}  // namespace
}  // namespace iomodels::test
