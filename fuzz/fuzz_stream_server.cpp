// The echo and framed server sessions (core/protocol_echo.cpp,
// protocol_framed.cpp) fed arbitrary bytes in arbitrary pieces. The mode
// byte's low bit picks the protocol. Properties: no crash/UB/leak; echo
// returns the input unchanged; framed gives the same frames and verdict in any
// split, and never holds more than one frame (max-frame + header) back.
#include "core/protocol.h"
#include "fuzz_util.h"

using namespace iomodels;

namespace {

constexpr size_t kMaxFrame = 300;  // small, so that oversize frames are common

struct Outcome {
  std::string out;
  uint64_t messages = 0;
  ServeResult::After after = ServeResult::After::kContinue;
};

Outcome serve(Protocol p, const std::vector<std::string_view>& pieces) {
  ProtocolLimits limits;
  limits.max_frame = kMaxFrame;
  auto session = make_server_session(p, limits);
  Outcome o;
  Buffer out(0);
  for (std::string_view piece : pieces) {
    ServeResult r = session->on_bytes({piece.data(), piece.size()}, out);
    o.messages += r.messages;
    o.after = r.after;
    fuzz::require(session->pending_bytes() <= kMaxFrame + kFrameHeaderBytes, "pending bounded");
  }
  o.out.assign(out.view());
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Pieces in = fuzz::cut(data, size);
  Protocol p = (in.mode & 1) ? Protocol::kFramed : Protocol::kEcho;
  Outcome split = serve(p, in.pieces);
  if (p == Protocol::kEcho) {
    fuzz::require(split.out == in.data, "echo returns its input");
    fuzz::require(split.after == ServeResult::After::kContinue, "echo never closes");
    return 0;
  }
  Outcome whole = serve(p, {in.data});
  fuzz::require(split.out == whole.out, "same frames in any split");
  fuzz::require(split.messages == whole.messages && split.after == whole.after,
                "same count and verdict in any split");
  fuzz::require(in.data.starts_with(split.out), "frames come back unchanged, in order");
  return 0;
}
