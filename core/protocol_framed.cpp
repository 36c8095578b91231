// framed server: u32 big-endian length + payload, answered with the identical
// frame once the whole frame has arrived (store-and-forward).
#include <algorithm>

#include "core/protocol_internal.h"

namespace iomodels::detail {
namespace {

uint32_t get_be32(const char* p) {
  auto b = [p](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(p[i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

class FramedServer final : public ServerSession {
 public:
  explicit FramedServer(const ProtocolLimits& limits) : max_frame_(limits.max_frame) {}

  ServeResult on_bytes(std::span<const char> in, Buffer& out) override {
    ServeResult r;
    if (failed_) {
      r.after = ServeResult::After::kProtocolError;
      return r;
    }
    const char* p = in.data();
    size_t n = in.size();
    if (!partial_.empty()) {
      size_t used = continue_partial(p, n, out, r);
      p += used;
      n -= used;
    }
    if (!failed_ && partial_.empty()) {
      size_t used = forward_whole_frames(p, n, out, r);
      // Only the bytes that arrived are kept: a header alone, or a header and
      // part of a payload whose length already passed the limit.
      if (!failed_ && used < n) partial_.append(p + used, n - used);
    }
    if (failed_) r.after = ServeResult::After::kProtocolError;
    return r;
  }

  size_t pending_bytes() const override { return partial_.readable_bytes(); }
  size_t buffered_capacity() const override { return partial_.capacity(); }

 private:
  // Fast path: every complete frame at the front of the input goes to `out` in
  // one copy, without staging. Returns the bytes forwarded.
  size_t forward_whole_frames(const char* p, size_t n, Buffer& out, ServeResult& r) {
    size_t pos = 0;
    while (n - pos >= kFrameHeaderBytes) {
      uint32_t len = get_be32(p + pos);
      if (len > max_frame_) {
        failed_ = true;
        break;
      }
      if (n - pos - kFrameHeaderBytes < len) break;
      pos += kFrameHeaderBytes + len;
      ++r.messages;
    }
    if (pos > 0) out.append(p, pos);
    return pos;
  }

  // A frame began in an earlier call: top it up. Returns the input bytes used.
  size_t continue_partial(const char* p, size_t n, Buffer& out, ServeResult& r) {
    size_t used = 0;
    if (partial_.readable_bytes() < kFrameHeaderBytes) {
      used = std::min(n, kFrameHeaderBytes - partial_.readable_bytes());
      partial_.append(p, used);
      if (partial_.readable_bytes() < kFrameHeaderBytes) return used;
    }
    // The check comes before any payload byte is stored, so a hostile length
    // costs at most the 4 header bytes.
    uint32_t len = get_be32(partial_.peek());
    if (len > max_frame_) {
      failed_ = true;
      partial_.clear();
      return n;
    }
    size_t want = kFrameHeaderBytes + len - partial_.readable_bytes();
    size_t take = std::min(want, n - used);
    partial_.append(p + used, take);
    used += take;
    if (take == want) {
      out.append(partial_.peek(), partial_.readable_bytes());
      partial_.clear();
      partial_.shrink_if_idle();
      ++r.messages;
    }
    return used;
  }

  size_t max_frame_;
  Buffer partial_{0};  // grows with bytes received, never with the claimed length
  bool failed_ = false;
};

}  // namespace

std::unique_ptr<ServerSession> make_framed_server(const ProtocolLimits& limits) {
  return std::make_unique<FramedServer>(limits);
}

}  // namespace iomodels::detail
