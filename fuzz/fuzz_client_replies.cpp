// The loadgen's reply checkers (core/protocol_http_client.cpp for http,
// core/protocol_echo.cpp's stream client for echo and framed) fed arbitrary
// "replies" in arbitrary pieces. The byte after the split byte picks the
// protocol (value % 3) and how many requests are owed (1..16, 16-byte
// payloads). Properties: no crash/UB/leak; the same totals in any split;
// never more replies completed than requests made; a fatal stream stays fatal.
#include "core/protocol.h"
#include "fuzz_util.h"

using namespace iomodels;

namespace {

constexpr size_t kPayload = 16;

ReplyResult check(Protocol p, size_t requests, const std::vector<std::string_view>& pieces) {
  auto client = make_client_session(p, 7);
  Buffer sent;
  for (size_t i = 0; i < requests; ++i) client->build_request(i, kPayload, sent);
  ReplyResult total;
  for (std::string_view piece : pieces) {
    ReplyResult r = client->on_bytes({piece.data(), piece.size()});
    fuzz::require(!total.fatal || (r.fatal && r.completed == 0), "fatal is final");
    fuzz::require(r.mismatches + r.http_status <= r.completed, "errors are a subset of replies");
    total.completed += r.completed;
    total.mismatches += r.mismatches;
    total.http_status += r.http_status;
    total.fatal = total.fatal || r.fatal;
  }
  fuzz::require(total.completed + client->outstanding() == requests, "every request accounted");
  return total;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  Protocol p = data[1] % 3 == 0 ? Protocol::kEcho : data[1] % 3 == 1 ? Protocol::kFramed : Protocol::kHttp;
  size_t requests = 1 + (data[1] / 3) % 16;
  // Drop the protocol byte, keep the split byte in front.
  std::string in(1, static_cast<char>(data[0]));
  in.append(reinterpret_cast<const char*>(data + 2), size - 2);
  fuzz::Pieces cut = fuzz::cut(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  ReplyResult split = check(p, requests, cut.pieces);
  ReplyResult whole = check(p, requests, {cut.data});
  fuzz::require(split.completed == whole.completed && split.mismatches == whole.mismatches &&
                    split.http_status == whole.http_status && split.fatal == whole.fatal,
                "same totals in any split");
  return 0;
}
