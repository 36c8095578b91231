// micro_readiness: the cost of one readiness wait with N registered sockets,
// one of them ready — the curve that motivated epoll (select and poll scan
// every fd on every call; epoll_wait returns only the ready list).
//
// Needs: fds for 2N sockets (the run raises RLIMIT_NOFILE to its hard limit);
// select stops below FD_SETSIZE. Try it by hand:
//   ./build/iomodels_micro --benchmark_filter='Wait' --benchmark_min_time=0.2
// Setup (sockets, registration) is outside the timed loop. Each wait reports the
// ready fd and the benchmark checks it, so a wrong answer cannot look fast.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "harness/micro/socket_pairs.h"

namespace iomodels {
namespace {

// The ready socket is the last one registered: the highest fd, which is the
// worst case for select's bitmap scan and an average one for poll's array.
struct ReadySet {
  SocketPairs pairs;
  int ready_fd = -1;
  explicit ReadySet(size_t n) : pairs(make_socket_pairs(n)) {
    char b = 'x';
    if (::send(pairs.peers.back().get(), &b, 1, 0) != 1) throw std::runtime_error("send");
    ready_fd = pairs.watched.back().get();
    // Let loopback deliver the byte before timing starts.
    pollfd p{ready_fd, POLLIN, 0};
    ::poll(&p, 1, 1000);
  }
};

// Build a ReadySet or report why not (fd limit) as a skip with the reason.
// Google Benchmark calls a benchmark several times while it sizes the
// iteration count: the last set is kept, so 10000 sockets are made once, not
// once per call.
std::shared_ptr<ReadySet> make_ready_set(benchmark::State& state) {
  static std::shared_ptr<ReadySet> cached;
  size_t n = static_cast<size_t>(state.range(0));
  if (cached && cached->pairs.watched.size() == n) return cached;
  cached.reset();  // free the old descriptors before asking for new ones
  try {
    cached = std::make_shared<ReadySet>(n);
    return cached;
  } catch (const std::exception& e) {
    state.SkipWithError((std::string("setup failed (fd limit?): ") + e.what()).c_str());
    return nullptr;
  }
}

void BM_WaitSelect(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  int max_fd = 0;
  for (const Fd& fd : rs->pairs.watched) max_fd = std::max(max_fd, fd.get());
  if (max_fd >= FD_SETSIZE) {  // FD_SET beyond the bitmap would corrupt memory
    state.SkipWithError("select: fds at or above FD_SETSIZE (1024) cannot be passed to FD_SET");
    return;
  }
  fd_set master;
  FD_ZERO(&master);
  for (const Fd& fd : rs->pairs.watched) FD_SET(fd.get(), &master);
  for (auto _ : state) {
    fd_set readable = master;  // select overwrites its argument: copy per call
    timeval tv{0, 0};
    int n = ::select(max_fd + 1, &readable, nullptr, nullptr, &tv);
    int found = -1;
    for (int fd = 0; fd <= max_fd && n > 0; ++fd)
      if (FD_ISSET(fd, &readable)) { found = fd; break; }
    if (found != rs->ready_fd) { state.SkipWithError("select reported the wrong fd"); break; }
  }
  state.counters["fds"] = static_cast<double>(state.range(0));
}

void BM_WaitPoll(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  std::vector<pollfd> fds;
  for (const Fd& fd : rs->pairs.watched) fds.push_back({fd.get(), POLLIN, 0});
  for (auto _ : state) {
    int n = ::poll(fds.data(), fds.size(), 0);
    int found = -1;
    for (size_t i = 0; i < fds.size() && n > 0; ++i)
      if (fds[i].revents & POLLIN) { found = fds[i].fd; break; }
    if (found != rs->ready_fd) { state.SkipWithError("poll reported the wrong fd"); break; }
  }
  state.counters["fds"] = static_cast<double>(state.range(0));
}

Fd make_epoll(const ReadySet& rs, uint32_t flags) {
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  for (const Fd& fd : rs.pairs.watched) {
    epoll_event ev{};
    ev.events = EPOLLIN | flags;
    ev.data.fd = fd.get();
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0)
      throw std::system_error(errno, std::generic_category(), "epoll_ctl");
  }
  return ep;
}

void BM_WaitEpollLT(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  Fd ep = make_epoll(*rs, 0);
  epoll_event events[64];
  for (auto _ : state) {
    int n = ::epoll_wait(ep.get(), events, 64, 0);
    if (n != 1 || events[0].data.fd != rs->ready_fd) {
      state.SkipWithError("epoll_wait reported the wrong fd");
      break;
    }
  }
  state.counters["fds"] = static_cast<double>(state.range(0));
}

// Edge-triggered epoll reports a socket once per new arrival, so each iteration
// makes a fresh edge (send one byte to the peer) and consumes it (recv).
// BM_SendRecvBaseline times those two calls alone: subtract it to get the wait.
void BM_WaitEpollET(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  Fd ep = make_epoll(*rs, EPOLLET);
  epoll_event events[64];
  int peer = rs->pairs.peers.back().get();
  char b = 'x';
  char drain[64];
  ::epoll_wait(ep.get(), events, 64, 0);  // take the setup byte's edge
  (void)!::recv(rs->ready_fd, drain, sizeof drain, 0);
  for (auto _ : state) {
    (void)!::send(peer, &b, 1, 0);
    // A timeout, not 0: on a loaded machine loopback may deliver the byte from
    // softirq context a moment after send() returns. Ready at once costs the same.
    int n = ::epoll_wait(ep.get(), events, 64, 1000);
    if (n != 1 || events[0].data.fd != rs->ready_fd) {
      state.SkipWithError("epoll_wait (ET) reported the wrong fd");
      break;
    }
    // Empty the queue: TCP signals a new edge reliably only when data lands
    // in an empty receive queue (with a byte left over, the wakeup came late).
    (void)!::recv(rs->ready_fd, drain, sizeof drain, 0);
  }
  (void)!::send(peer, &b, 1, 0);  // leave the set as found: one byte ready
  state.counters["fds"] = static_cast<double>(state.range(0));
}

void BM_SendRecvBaseline(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  int peer = rs->pairs.peers.back().get();
  char b = 'x';
  for (auto _ : state) {
    (void)!::send(peer, &b, 1, 0);
    (void)!::recv(rs->ready_fd, &b, 1, 0);
  }
}

// Registration: what epoll pays per connection change (ctl add + del) against
// what a naive poll server pays per call (rebuild the whole pollfd array).
void BM_RegisterEpollCtlAddDel(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  Fd ep = make_epoll(*rs, 0);
  int fd = rs->pairs.peers.front().get();  // not registered yet
  epoll_event ev{};
  ev.events = EPOLLIN;
  for (auto _ : state) {
    ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev);
    ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
  state.counters["fds"] = static_cast<double>(state.range(0));
}

void BM_RegisterPollfdRebuild(benchmark::State& state) {
  auto rs = make_ready_set(state);
  if (!rs) return;
  std::vector<pollfd> fds;
  for (auto _ : state) {
    fds.clear();
    for (const Fd& fd : rs->pairs.watched) fds.push_back({fd.get(), POLLIN, 0});
    benchmark::DoNotOptimize(fds.data());
  }
  state.counters["fds"] = static_cast<double>(state.range(0));
}

// 10000 watched sockets need 20000 fds plus a few: past this machine's default
// hard limit, where setup fails and the benchmark says so.
#define IOMODELS_FDS ->Arg(1)->Arg(10)->Arg(100)->Arg(1000)->Arg(4000)->Arg(9000)->Arg(10000)
BENCHMARK(BM_WaitSelect) IOMODELS_FDS;
BENCHMARK(BM_WaitPoll) IOMODELS_FDS;
BENCHMARK(BM_WaitEpollLT) IOMODELS_FDS;
BENCHMARK(BM_WaitEpollET) IOMODELS_FDS;
BENCHMARK(BM_SendRecvBaseline)->Arg(1);
BENCHMARK(BM_RegisterEpollCtlAddDel) IOMODELS_FDS;
BENCHMARK(BM_RegisterPollfdRebuild) IOMODELS_FDS;

}  // namespace
}  // namespace iomodels
