// micro_hotpaths: what the loadgen and the servers pay per request outside the
// kernel — histogram record, payload fill and verify, and each protocol's parse
// of a pipelined batch, server side and client side.
//
// Counters read in their natural unit: ns per value (real_time) for the
// histogram, bytes_per_second for payloads, items_per_second = requests/s for
// the protocols. Try it: ./build/iomodels_micro --benchmark_filter='Payload|Protocol'
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/histogram.h"
#include "core/payload.h"
#include "core/protocol.h"

namespace iomodels {
namespace {

void BM_HistogramRecord(benchmark::State& state) {
  Histogram h;
  // Latency-like values, 10 µs .. 10 ms, precomputed so the RNG is not timed.
  std::mt19937_64 rng(42);
  std::lognormal_distribution<double> dist(11.5, 1.0);
  std::vector<uint64_t> values(4096);
  for (auto& v : values) v = static_cast<uint64_t>(dist(rng));
  size_t i = 0;
  for (auto _ : state) {
    h.record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramRecord);

void BM_HistogramPercentile(benchmark::State& state) {
  Histogram h;
  for (uint64_t v = 1000; v < 10'000'000; v += 997) h.record(v);
  for (auto _ : state) benchmark::DoNotOptimize(h.value_at_percentile(99.0));
}
BENCHMARK(BM_HistogramPercentile);

void BM_PayloadFill(benchmark::State& state) {
  std::vector<char> buf(static_cast<size_t>(state.range(0)));
  uint64_t seq = 0;
  for (auto _ : state) {
    payload_fill(7, seq++, 0, buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_PayloadFill)->Arg(64)->Arg(4096)->Arg(65536);

void BM_PayloadVerify(benchmark::State& state) {
  std::vector<char> buf(static_cast<size_t>(state.range(0)));
  payload_fill(7, 1, 0, buf);
  for (auto _ : state) {
    bool ok = payload_verify(7, 1, 0, buf);
    if (!ok) { state.SkipWithError("verify rejected a correct payload"); break; }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_PayloadVerify)->Arg(64)->Arg(4096)->Arg(65536);

constexpr int kBatch = 16;  // pipelined requests per parse call

// Requests the loadgen would send: kBatch of 64 B payloads, as one byte string.
std::string pipelined_requests(Protocol p) {
  auto client = make_client_session(p, 3);
  Buffer out;
  for (int i = 0; i < kBatch; ++i) client->build_request(static_cast<uint64_t>(i), 64, out);
  return std::string(out.view());
}

// Server side: one on_bytes call with kBatch requests, replies into a Buffer.
void BM_ProtocolServerParse(benchmark::State& state) {
  Protocol p = static_cast<Protocol>(state.range(0));
  std::string batch = pipelined_requests(p);
  auto session = make_server_session(p, ProtocolLimits{});
  Buffer out(64 * 1024);
  for (auto _ : state) {
    ServeResult r = session->on_bytes({batch.data(), batch.size()}, out);
    if (r.after != ServeResult::After::kContinue) { state.SkipWithError("parse failed"); break; }
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(protocol_name(p));
}
BENCHMARK(BM_ProtocolServerParse)->Arg(0)->Arg(1)->Arg(2);

// Client side, the loadgen's per-request path: build kBatch requests, then
// verify their replies byte by byte.
void BM_ClientBuildAndVerify(benchmark::State& state) {
  Protocol p = static_cast<Protocol>(state.range(0));
  // Replies the server would send to one batch (seq 0..15 of connection 3).
  auto server = make_server_session(p, ProtocolLimits{});
  Buffer replies;
  std::string batch = pipelined_requests(p);
  server->on_bytes({batch.data(), batch.size()}, replies);
  std::string reply_bytes(replies.view());
  Buffer out(64 * 1024);
  for (auto _ : state) {
    auto client = make_client_session(p, 3);  // fresh: sequence numbers restart at 0
    for (int i = 0; i < kBatch; ++i) client->build_request(static_cast<uint64_t>(i), 64, out);
    ReplyResult r = client->on_bytes({reply_bytes.data(), reply_bytes.size()});
    if (r.completed != kBatch || r.mismatches != 0) { state.SkipWithError("verify failed"); break; }
    out.clear();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetLabel(protocol_name(p));
}
BENCHMARK(BM_ClientBuildAndVerify)->Arg(0)->Arg(1)->Arg(2);

}  // namespace
}  // namespace iomodels
