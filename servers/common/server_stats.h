// Counters a server keeps and writes as JSON when it stops, and on SIGUSR1
// (a snapshot while it runs: server_main.cpp).
//
// Each ServerStats has ONE writer, the thread that serves with it, so the hot
// path never touches a shared cache line. Its counters are relaxed atomics
// written with a plain load + store (not an atomic increment: nobody else
// writes), which compiles to the same mov as a plain integer on x86 and lets
// the snapshot thread read them while they change without a data race.
// A worker thread's ServerStats is merged into the context's at exit
// (ServerContext::merge_stats), never written by two threads.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
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

// A single-writer counter (see the header comment): reads are race-free from
// any thread, writes only from the owner.
class Counter {
 public:
  Counter() noexcept = default;
  Counter(uint64_t v) noexcept : v_(v) {}  // NOLINT: a counter is a number
  Counter(const Counter& o) noexcept : v_(o.load()) {}
  Counter& operator=(const Counter& o) noexcept { return *this = o.load(); }
  Counter& operator=(uint64_t v) noexcept {
    v_.store(v, std::memory_order_relaxed);
    return *this;
  }
  uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }
  operator uint64_t() const noexcept { return load(); }  // NOLINT
  Counter& operator+=(uint64_t n) noexcept { return *this = load() + n; }
  Counter& operator++() noexcept { return *this += 1; }
  uint64_t operator++(int) noexcept {
    uint64_t old = load();
    *this = old + 1;
    return old;
  }

 private:
  std::atomic<uint64_t> v_{0};
};

// Model-specific counters by name, for rare paths only: each access takes a
// small lock, so that a snapshot may walk the map while the owner inserts.
class ExtraCounters {
 public:
  class Ref {
   public:
    Ref(ExtraCounters& e, std::string k) : e_(e), k_(std::move(k)) {}
    Ref& operator++() { return add(1); }
    Ref& operator+=(uint64_t n) { return add(n); }
    Ref& operator=(uint64_t v) {
      std::lock_guard lock(e_.mu_);
      e_.m_[k_] = v;
      return *this;
    }
    operator uint64_t() const {  // NOLINT
      std::lock_guard lock(e_.mu_);
      auto it = e_.m_.find(k_);
      return it == e_.m_.end() ? 0 : it->second;
    }

   private:
    Ref& add(uint64_t n) {
      std::lock_guard lock(e_.mu_);
      e_.m_[k_] += n;
      return *this;
    }
    ExtraCounters& e_;
    std::string k_;
  };

  ExtraCounters() = default;
  ExtraCounters(const ExtraCounters& o) : m_(o.copy()) {}
  ExtraCounters& operator=(const ExtraCounters& o) {
    auto m = o.copy();
    std::lock_guard lock(mu_);
    m_ = std::move(m);
    return *this;
  }
  Ref operator[](std::string key) { return Ref(*this, std::move(key)); }
  std::map<std::string, uint64_t> copy() const {
    std::lock_guard lock(mu_);
    return m_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> m_;
};

struct ServerStats {
  Counter accepted;
  Counter rejected;         // accepted then refused: cap, FD_SETSIZE, EMFILE shed
  Counter closed;
  Counter bytes_in;
  Counter bytes_out;
  Counter messages;
  Counter protocol_errors;
  Counter peer_resets;      // ECONNRESET/EPIPE: the peer's fault, its connection only
  Counter unexpected_errors;
  Counter wakeups;          // wait calls that returned (loop passes for nonblocking_spin)
  Counter events;           // readiness/completion events handled
  std::array<Counter, static_cast<size_t>(Syscall::kCount_)> syscalls{};
  ExtraCounters extra;      // model-specific (rt_overflows, enobufs...), rare paths only

  void count(Syscall s, uint64_t n = 1) noexcept { syscalls[static_cast<size_t>(s)] += n; }
  // Adds `other` into this one. Only this one's owner may call it (or anyone
  // while no thread writes this one); `other` may be live.
  void merge(const ServerStats& other);
  // {"accepted":..,...,"syscalls":{"recv":..},"extra":{..}}; zero syscalls omitted.
  void to_json(nlohmann::json& out) const;
};

}  // namespace iomodels
