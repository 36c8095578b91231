// BufferBudget: one server-wide ceiling on the bytes connections buffer
// (--max-buffered-bytes). The per-connection out cap bounds one
// slow reader, not ten thousand of them: framed store-and-forward could hold
// max-connections x 2 x max-frame (about 20 GiB with the defaults).
//
// Each connection holds a BudgetCharge and updates it with the memory it
// holds after every change (buffer capacities, not contents: a 1 MiB frame
// staged by doubling costs 2 MiB of resident memory). A connection that grows
// past kFreeBytes while the server is over the budget is refused: the model
// closes it and the refusal is counted (extra["buffer_budget_refusals"]).
// Connections holding less than kFreeBytes are not charged at all, so small
// requests never touch the shared atomic and are never refused: a server at
// its budget still answers new connections that ask for little.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace iomodels {

class BufferBudget {
 public:
  static constexpr size_t kDefaultLimit = size_t(256) << 20;
  static constexpr size_t kFreeBytes = 16 * 1024;

  // The process's budget; server_main sets its limit from the options.
  static BufferBudget& process();

  void set_limit(size_t bytes) noexcept { limit_.store(bytes, std::memory_order_relaxed); }
  size_t limit() const noexcept { return limit_.load(std::memory_order_relaxed); }
  size_t charged() const noexcept { return charged_.load(std::memory_order_relaxed); }

 private:
  friend class BudgetCharge;
  std::atomic<size_t> limit_{kDefaultLimit};
  std::atomic<size_t> charged_{0};
};

// What one connection has charged to the process's budget; given back when
// it is destroyed. Movable (models move their Connection into place).
class BudgetCharge {
 public:
  BudgetCharge() = default;
  BudgetCharge(BudgetCharge&& o) noexcept : bytes_(o.bytes_) { o.bytes_ = 0; }
  BudgetCharge& operator=(BudgetCharge&& o) noexcept {
    if (this != &o) {
      release();
      bytes_ = o.bytes_;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~BudgetCharge() { release(); }

  // The connection now holds `bytes`. False: it grew past kFreeBytes while the
  // server is over its budget; the caller refuses it (drops its buffers and
  // closes it). The charge is updated either way. Inline for the common case
  // (nothing charged, still under kFreeBytes): a few instructions per message,
  // no call, no shared atomic.
  bool update(size_t bytes) noexcept {
    if (bytes_ == 0 && bytes <= BufferBudget::kFreeBytes) return true;
    return update_charged(bytes);
  }
  void release() noexcept { update(0); }
  size_t bytes() const noexcept { return bytes_; }

 private:
  bool update_charged(size_t bytes) noexcept;
  size_t bytes_ = 0;  // 0 while the connection holds no more than kFreeBytes
};

}  // namespace iomodels
