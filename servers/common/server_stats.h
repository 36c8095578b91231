// Counters a server keeps and writes as JSON when it stops.
//
// ServerStats is deliberately not thread-safe: a thread that serves keeps its
// own and merges it into the context's at exit (ServerContext::merge_stats), so
// the hot path never touches a shared cache line.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace iomodels {

// Every syscall a model may make on its hot path, counted by name.
enum class Syscall : uint8_t {
  kAccept, kAccept4, kRead, kRecv, kReadv, kWrite, kSend, kWritev, kClose, kShutdown,
  kSelect, kPoll, kEpollWait, kEpollCtl, kSigwaitinfo, kSigtimedwait, kFcntl,
  kAioRead, kAioWrite, kAioSuspend, kAioError, kAioReturn,
  kIoUringEnter, kIoUringSubmit, kNanosleep, kEventBaseLoop, kEpollPwait, kIoctl,
  kCount_
};
const char* syscall_name(Syscall s) noexcept;

struct ServerStats {
  uint64_t accepted = 0;
  uint64_t rejected = 0;         // accepted then refused: cap, FD_SETSIZE, EMFILE shed
  uint64_t closed = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t messages = 0;
  uint64_t protocol_errors = 0;
  uint64_t peer_resets = 0;      // ECONNRESET/EPIPE: the peer's fault, its connection only
  uint64_t unexpected_errors = 0;
  uint64_t wakeups = 0;          // wait calls that returned (loop passes for nonblocking_spin)
  uint64_t events = 0;           // readiness/completion events handled
  std::array<uint64_t, static_cast<size_t>(Syscall::kCount_)> syscalls{};
  std::map<std::string, uint64_t> extra;  // model-specific (rt_overflows, enobufs...), rare paths only

  void count(Syscall s, uint64_t n = 1) noexcept { syscalls[static_cast<size_t>(s)] += n; }
  void merge(const ServerStats& other);
  // {"accepted":..,...,"syscalls":{"recv":..},"extra":{..}}; zero syscalls omitted.
  void to_json(nlohmann::json& out) const;
};

}  // namespace iomodels
