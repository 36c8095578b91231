// Helpers for the loadgen end-to-end tests: an in-process echo server thread
// (epoll, non-blocking, many connections; optionally stalling on purpose) and
// a runner that executes the loadgen binary and parses its JSON.
#pragma once
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/socket_util.h"
#include "test_paths.inc"

namespace iomodels::test {

// What the test server does besides echoing (each one a way a server can
// mislead a load generator).
struct TestServerOptions {
  int stall_ms = 0;            // stop serving everything for stall_ms ...
  int stall_period_ms = 1000;  // ... once every stall_period_ms
  int stall_once_ms = 0;       // stop serving once, for this long, when the first request arrives
  int hang_connection = -1;    // the k-th accepted connection (from 0) is read, never answered
  int accepts_per_ms = 0;      // > 0: a slow accept loop, at most this many accepts a millisecond
  bool http_503 = false;       // answer every http request (CRLFCRLF) with a 503, no echo
  std::string bind = "127.0.0.1";  // "::1": the same server over IPv6
};

// Echo server on 127.0.0.1 (or o.bind), port 0, one thread, with the misbehaviours
// above. It notes (CLOCK_MONOTONIC) when it last accepted a connection and
// when the first request bytes arrived.
class TestEchoServer {
 public:
  explicit TestEchoServer(TestServerOptions o = {}) : o_(o) {
    raise_nofile_limit();
    ListenerOptions lo;
    lo.nonblocking = true;
    lo.backlog = 8192;
    lo.bind = o.bind;
    listener_ = make_listener(lo);
    port_ = local_port(listener_.get());
    stop_fd_ = Fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    thread_ = std::thread([this] { loop(); });
  }
  TestEchoServer(int stall_ms, int stall_period_ms)
      : TestEchoServer(TestServerOptions{stall_ms, stall_period_ms}) {}
  ~TestEchoServer() {
    uint64_t one = 1;
    (void)!::write(stop_fd_.get(), &one, sizeof one);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::string target() const { return local_address(listener_.get()); }  // "127.0.0.1:P" or "[::1]:P"
  uint64_t accepted() const { return accepted_.load(); }
  uint64_t last_accept_ns() const { return last_accept_ns_.load(); }
  uint64_t first_data_ns() const { return first_data_ns_.load(); }

 private:
  struct Conn {
    std::string pending;  // bytes not yet echoed (socket buffer full)
    bool hung = false;
    uint32_t crlf_state = 0;  // http_503: bytes of "\r\n\r\n" matched so far
  };

  void accept_some(int ep, std::unordered_map<int, Conn>& conns) {
    int limit = o_.accepts_per_ms > 0 ? o_.accepts_per_ms : 512;
    for (int k = 0; k < limit; ++k) {
      int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) break;
      conns[c].hung = static_cast<int>(accepted_.load()) == o_.hang_connection;
      ++accepted_;
      last_accept_ns_ = now_ns();
      add(ep, c, EPOLLIN);
    }
    if (o_.accepts_per_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  // What to send back for `n` bytes just read.
  void answer(Conn& c, const char* p, size_t n) {
    if (first_data_ns_ == 0) {
      first_data_ns_ = now_ns();
      if (o_.stall_once_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o_.stall_once_ms));
    }
    if (c.hung) return;
    if (!o_.http_503) {
      c.pending.append(p, n);
      return;
    }
    static constexpr char kEnd[] = "\r\n\r\n";
    for (size_t i = 0; i < n; ++i) {
      c.crlf_state = p[i] == kEnd[c.crlf_state] ? c.crlf_state + 1 : (p[i] == '\r' ? 1 : 0);
      if (c.crlf_state == 4) {
        c.pending += "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
        c.crlf_state = 0;
      }
    }
  }

  void loop() {
    Fd ep(::epoll_create1(EPOLL_CLOEXEC));
    add(ep.get(), listener_.get(), EPOLLIN);
    add(ep.get(), stop_fd_.get(), EPOLLIN);
    std::unordered_map<int, Conn> conns;
    std::vector<char> buf(64 * 1024);
    epoll_event evs[256];
    uint64_t next_stall = now_ns() + static_cast<uint64_t>(o_.stall_period_ms) * 1'000'000;
    for (;;) {
      if (o_.stall_ms > 0 && now_ns() >= next_stall) {
        std::this_thread::sleep_for(std::chrono::milliseconds(o_.stall_ms));
        next_stall += static_cast<uint64_t>(o_.stall_period_ms) * 1'000'000;
      }
      int n = ::epoll_wait(ep.get(), evs, 256, 10);
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == stop_fd_.get()) {
          for (auto& [cfd, c] : conns) ::close(cfd);
          return;
        }
        if (fd == listener_.get()) {
          accept_some(ep.get(), conns);
          continue;
        }
        Conn& c = conns[fd];
        bool dead = false;
        if (evs[i].events & EPOLLOUT) dead = !drain(fd, c);
        while (!dead && c.pending.size() < (1 << 20)) {
          ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
          if (r > 0) {
            answer(c, buf.data(), static_cast<size_t>(r));
            dead = !drain(fd, c);
            continue;
          }
          if (r == 0 || (errno != EAGAIN && errno != EINTR)) dead = true;
          if (r < 0 && errno == EINTR) continue;
          break;
        }
        if (dead) {
          ::close(fd);
          conns.erase(fd);
          continue;
        }
        epoll_event ev{};
        ev.events = EPOLLIN | (c.pending.empty() ? 0u : EPOLLOUT);
        ev.data.fd = fd;
        ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, fd, &ev);
      }
    }
  }
  static bool drain(int fd, Conn& c) {
    while (!c.pending.empty()) {
      ssize_t w = ::send(fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
      if (w > 0) {
        c.pending.erase(0, static_cast<size_t>(w));
        continue;
      }
      return errno == EAGAIN || errno == EINTR;
    }
    return true;
  }
  static void add(int ep, int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }

  TestServerOptions o_;
  Fd listener_;
  Fd stop_fd_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> last_accept_ns_{0};
  std::atomic<uint64_t> first_data_ns_{0};
  std::thread thread_;
};

struct LoadgenRun {
  int exit_code = -1;
  nlohmann::json result;  // null when the output was not JSON
  std::string stdout_text;
  std::string stderr_text;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::string temp_dir() {
  char tmpl[] = "/tmp/loadgen-test-XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  return d ? d : "/tmp";
}

// Runs `loadgen ARGS` (bounded by timeout(1) as a safety net) and parses
// stdout. interrupt_after_s > 0: SIGINT at that time (the loadgen's exit
// status is kept). ARGS may redirect fds, e.g. "--notify-fd 3 3>FILE".
// ENV: NAME=VALUE words set for the loadgen alone (env(1)), e.g. LD_PRELOAD.
inline LoadgenRun run_loadgen(const std::string& args, int limit_s = 120, double interrupt_after_s = 0,
                              const std::string& env = "") {
  static const std::string dir = temp_dir();
  static int n = 0;
  std::string out = dir + "/out" + std::to_string(n) + ".json";
  std::string err = dir + "/err" + std::to_string(n++) + ".txt";
  std::string interrupt =
      interrupt_after_s > 0 ? "timeout --preserve-status -s INT " + std::to_string(interrupt_after_s) + " " : "";
  std::string with_env = env.empty() ? "" : "env " + env + " ";
  std::string cmd = "timeout -s KILL " + std::to_string(limit_s) + " " + interrupt + with_env +
                    IOMODELS_loadgen_PATH " " + args + " >" + out + " 2>" + err;
  LoadgenRun r;
  int st = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.stdout_text = read_file(out);
  r.stderr_text = read_file(err);
  r.result = nlohmann::json::parse(r.stdout_text, nullptr, false);
  if (r.result.is_discarded()) r.result = nullptr;
  return r;
}

inline uint64_t total_errors(const nlohmann::json& j) {
  uint64_t t = 0;
  for (auto& [k, v] : j.at("summary").at("errors").items()) t += v.get<uint64_t>();
  return t;
}

}  // namespace iomodels::test
