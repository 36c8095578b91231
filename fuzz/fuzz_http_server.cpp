// The http server session (core/protocol_http.cpp) fed arbitrary bytes in
// arbitrary pieces. Properties: no crash/UB/leak; the same stream cut
// differently gives the same replies, count and verdict; nothing is held back
// beyond the header limit; a verdict other than "continue" is final.
#include "core/protocol.h"
#include "fuzz_util.h"

using namespace iomodels;

namespace {

struct Outcome {
  std::string out;
  uint64_t messages = 0;
  ServeResult::After after = ServeResult::After::kContinue;
};

constexpr size_t kMaxHeader = 512;  // small, so that the limit is reached often

Outcome serve(const std::vector<std::string_view>& pieces) {
  ProtocolLimits limits;
  limits.max_http_header = kMaxHeader;
  auto session = make_server_session(Protocol::kHttp, limits);
  Outcome o;
  Buffer out(0);
  for (std::string_view piece : pieces) {
    ServeResult r = session->on_bytes({piece.data(), piece.size()}, out);
    o.messages += r.messages;
    if (o.after != ServeResult::After::kContinue)
      fuzz::require(r.after == o.after && r.messages == 0, "a close verdict is final");
    o.after = r.after;
    // A header block still arriving, plus at most one call's worth of input.
    fuzz::require(session->pending_bytes() <= kMaxHeader + piece.size(), "pending bounded");
  }
  o.out.assign(out.view());
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Pieces in = fuzz::cut(data, size);
  Outcome split = serve(in.pieces);
  Outcome whole = serve({in.data});
  fuzz::require(split.messages == whole.messages, "same requests answered in any split");
  fuzz::require(split.after == whole.after, "same verdict in any split");
  fuzz::require(fuzz::without_dates(split.out) == fuzz::without_dates(whole.out),
                "same reply bytes in any split");
  // Every answered request has exactly one final reply.
  size_t finals = 0;
  for (size_t at = whole.out.find("HTTP/1.1 "); at != std::string::npos;
       at = whole.out.find("HTTP/1.1 ", at + 1))
    finals += whole.out.compare(at, 12, "HTTP/1.1 100") != 0;
  bool refused = whole.after == ServeResult::After::kProtocolError;
  fuzz::require(finals == whole.messages + (refused ? 1 : 0), "one final reply per request");
  return 0;
}
