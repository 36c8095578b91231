// echo server, and the client that checks echo and framed replies (both are
// the request bytes returned unchanged; framed adds a 4-byte length header).
#include <algorithm>
#include <deque>
#include <stdexcept>

#include "core/payload.h"
#include "core/protocol_internal.h"

namespace iomodels::detail {
namespace {

class EchoServer final : public ServerSession {
 public:
  // One message per read that carried data: echo has no framing, so "request"
  // can only mean what one read delivered.
  ServeResult on_bytes(std::span<const char> in, Buffer& out) override {
    if (in.empty()) return {};
    out.append(in.data(), in.size());
    return {ServeResult::After::kContinue, 1};
  }
  bool message_per_read() const noexcept override { return true; }
  bool holds_input() const noexcept override { return false; }
};

void put_be32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

class StreamClient final : public ClientSession {
 public:
  StreamClient(uint64_t conn_id, bool framed)
      : conn_id_(conn_id), header_(framed ? kFrameHeaderBytes : 0) {}

  void build_request(uint64_t seq, size_t size, Buffer& out) override {
    if (header_ == 0 && size == 0) {
      // An empty echo request has no reply to wait for: it would never complete.
      throw std::invalid_argument("echo requests need at least 1 byte of payload");
    }
    if (header_ != 0) {
      if (size > UINT32_MAX) throw std::invalid_argument("framed payload over 4 GiB");
      char h[kFrameHeaderBytes];
      put_be32(h, static_cast<uint32_t>(size));
      out.append(h, sizeof h);
    }
    if (size > 0) {
      auto span = out.writable_span(size);
      payload_fill(conn_id_, seq, 0, span.first(size));
      out.commit(size);
    }
    owed_.push_back({seq, size});
  }

  ReplyResult on_bytes(std::span<const char> in) override {
    ReplyResult r;
    if (fatal_) {
      r.fatal = true;
      return r;
    }
    size_t pos = 0;
    while (pos < in.size()) {
      if (owed_.empty()) {  // bytes nobody asked for: the stream is out of step
        fatal_ = true;
        break;
      }
      const Owed& o = owed_.front();
      size_t total = header_ + o.size;
      size_t take = std::min(total - at_, in.size() - pos);
      const char* p = in.data() + pos;
      size_t hdr_take = at_ < header_ ? std::min(take, header_ - at_) : 0;
      if (hdr_take > 0 && !header_matches(o.size, at_, p, hdr_take)) {
        // A wrong length means we no longer know where replies begin.
        fatal_ = true;
        break;
      }
      if (take > hdr_take &&
          !payload_verify(conn_id_, o.seq, at_ + hdr_take - header_,
                          {p + hdr_take, take - hdr_take})) {
        bad_ = true;
      }
      at_ += take;
      pos += take;
      if (at_ == total) {
        ++r.completed;
        if (bad_) ++r.mismatches;
        note(bad_ ? ReplyOutcome::kMismatch : ReplyOutcome::kOk);
        bad_ = false;
        at_ = 0;
        owed_.pop_front();
      }
    }
    r.fatal = fatal_;
    return r;
  }

  size_t outstanding() const override { return owed_.size(); }

 private:
  struct Owed {
    uint64_t seq;
    size_t size;
  };

  static bool header_matches(size_t size, size_t from, const char* p, size_t n) {
    char h[kFrameHeaderBytes];
    put_be32(h, static_cast<uint32_t>(size));
    return std::equal(p, p + n, h + from);
  }

  uint64_t conn_id_;
  size_t header_;
  std::deque<Owed> owed_;
  size_t at_ = 0;      // bytes of the front reply already checked
  bool bad_ = false;   // the front reply has differed somewhere
  bool fatal_ = false;
};

}  // namespace

std::unique_ptr<ServerSession> make_echo_server() { return std::make_unique<EchoServer>(); }

std::unique_ptr<ClientSession> make_stream_client(uint64_t conn_id, bool framed) {
  return std::make_unique<StreamClient>(conn_id, framed);
}

}  // namespace iomodels::detail
