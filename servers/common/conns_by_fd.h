// The connections of one event loop, found by their fd: a vector indexed by
// fd, since the kernel hands out the lowest free fd and the table stays
// dense. One index per event, where an unordered_map lookup cost an echo
// message about 19 user-space instructions (callgrind).
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

namespace iomodels {

template <class Conn>
class ConnsByFd {
 public:
  Conn* find(int fd) const noexcept {
    return fd >= 0 && size_t(fd) < slots_.size() ? slots_[size_t(fd)].get() : nullptr;
  }
  Conn& add(int fd, std::unique_ptr<Conn> c) {
    if (size_t(fd) >= slots_.size()) slots_.resize(size_t(fd) + 1);
    if (!slots_[size_t(fd)]) ++size_;
    slots_[size_t(fd)] = std::move(c);
    return *slots_[size_t(fd)];
  }
  // Destroys the connection (its Fd closes the socket); no-op if none.
  void erase(int fd) noexcept {
    if (find(fd) == nullptr) return;
    slots_[size_t(fd)].reset();
    --size_;
  }
  size_t size() const noexcept { return size_; }
  void clear() noexcept {
    slots_.clear();
    size_ = 0;
  }

 private:
  std::vector<std::unique_ptr<Conn>> slots_;
  size_t size_ = 0;
};

}  // namespace iomodels
