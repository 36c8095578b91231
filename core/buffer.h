// Buffer: a contiguous byte queue with a read and a write index (muduo's
// net/Buffer shape). It makes no syscalls: models read into writable_span(),
// commit() what arrived, and send from readable(); the protocol code appends.
#pragma once
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace iomodels {

class Buffer {
 public:
  explicit Buffer(size_t initial = 4096) : data_(initial) {}

  size_t readable_bytes() const noexcept { return write_ - read_; }
  bool empty() const noexcept { return write_ == read_; }
  const char* peek() const noexcept { return data_.data() + read_; }
  std::string_view view() const noexcept { return {peek(), readable_bytes()}; }

  void consume(size_t n) noexcept {
    read_ += n;
    if (read_ >= write_) read_ = write_ = 0;  // cheap reset keeps the buffer hot
  }
  void clear() noexcept { read_ = write_ = 0; }

  // Space to write at least `min` bytes; compacts or grows as needed.
  std::span<char> writable_span(size_t min = 1) {
    ensure_writable(min);
    return {data_.data() + write_, data_.size() - write_};
  }
  void commit(size_t n) noexcept { write_ += n; }

  void append(const char* p, size_t n) {
    ensure_writable(n);
    char* at = data_.data() + write_;
    write_ += n;  // before the copy: nothing is needed after it (no saved registers)
    std::memcpy(at, p, n);
  }
  void append(std::string_view s) { append(s.data(), s.size()); }

  size_t capacity() const noexcept { return data_.size(); }
  // Give memory back after a burst (e.g. a 16 MiB frame) once drained.
  static constexpr size_t kIdleKeep = 64 * 1024;
  void shrink_if_idle(size_t keep = kIdleKeep) {
    if (empty() && data_.size() > keep) std::vector<char>(keep).swap(data_);
  }

 private:
  void ensure_writable(size_t n) {
    if (data_.size() - write_ >= n) [[likely]] return;
    make_room(n);
  }
  // Out of line: the common append stays a leaf that needs no saved registers
  // (inlined, this path cost an echo ~14 instructions per message under callgrind).
  [[gnu::noinline]] void make_room(size_t n) {
    size_t live = readable_bytes();
    if (read_ > 0 && data_.size() - live >= n) {  // slide down instead of growing
      std::memmove(data_.data(), data_.data() + read_, live);
      read_ = 0;
      write_ = live;
      return;
    }
    size_t want = data_.size() * 2;
    if (want < write_ + n) want = write_ + n;
    data_.resize(want);
  }

  std::vector<char> data_;
  size_t read_ = 0;
  size_t write_ = 0;
};

}  // namespace iomodels
