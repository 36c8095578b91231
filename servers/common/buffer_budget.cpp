#include "servers/common/buffer_budget.h"

namespace iomodels {

BufferBudget& BufferBudget::process() {
  static BufferBudget budget;
  return budget;
}

bool BudgetCharge::update_charged(size_t bytes) noexcept {
  if (bytes <= BufferBudget::kFreeBytes) bytes = 0;
  if (bytes == bytes_) return true;
  BufferBudget& b = BufferBudget::process();
  if (bytes < bytes_) {
    b.charged_.fetch_sub(bytes_ - bytes, std::memory_order_relaxed);
    bytes_ = bytes;
    return true;
  }
  size_t total = b.charged_.fetch_add(bytes - bytes_, std::memory_order_relaxed) + (bytes - bytes_);
  bytes_ = bytes;
  return total <= b.limit();
}

}  // namespace iomodels
