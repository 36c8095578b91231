// The http parsers sit on the hot path of every http case: a request (or a
// reply) in steady state must cost no heap allocation. The unit binary's
// operator new/delete are replaced by malloc/free with a per-thread counter,
// so the count sees exactly what the session code allocates on this thread.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

#include "tests/unit/test_protocol_util.h"

namespace {
thread_local uint64_t g_allocations = 0;
}

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them): left
// to the runtime, their blocks met our free() (ASan: alloc-dealloc-mismatch).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n == 0 ? 1 : n);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return ::operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace iomodels {
namespace {

constexpr int kRequests = 2000;

// Allocations made by serving kRequests pipelined GETs in 97-byte pieces
// (so that most header blocks straddle a call and go through the tail path).
uint64_t server_allocations(std::string_view request) {
  auto session = make_server_session(Protocol::kHttp, {});
  std::string in;
  for (int i = 0; i < kRequests; ++i) in += request;
  Buffer out(1 << 20);
  (void)session->on_bytes({in.data(), request.size()}, out);  // warm: reply cache, tail buffer
  out.clear();
  uint64_t before = g_allocations;
  for (size_t at = request.size(); at < in.size(); at += 97) {
    session->on_bytes({in.data() + at, std::min<size_t>(97, in.size() - at)}, out);
    if (out.readable_bytes() > (1 << 19)) out.clear();
  }
  return g_allocations - before;
}

TEST(HttpAllocation, ServerAnswersWithoutAllocatingPerRequest) {
  // At most the once-a-second Date rebuild (3 strings) may fall in the window.
  EXPECT_LE(server_allocations("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), 3u);
  EXPECT_LE(server_allocations("POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                               "Connection: keep-alive\r\n\r\nbody"),
            3u);
  EXPECT_LE(server_allocations("HEAD / HTTP/1.1\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"), 3u);
}

TEST(HttpAllocation, ClientChecksRepliesWithoutAllocatingPerReply) {
  auto client = make_client_session(Protocol::kHttp, 1);
  auto server = make_server_session(Protocol::kHttp, {});
  Buffer req(1 << 20), replies(1 << 20);
  client->build_request(0, 0, req);
  server->on_bytes({req.peek(), req.readable_bytes()}, replies);
  std::string one(replies.view());
  (void)client->on_bytes({one.data(), one.size()});  // warm
  std::string many;
  for (int i = 0; i < kRequests; ++i) many += one;
  uint64_t before = g_allocations;
  for (int i = 0; i < kRequests; ++i) client->build_request(i, 0, req);
  uint64_t completed = 0;
  for (size_t at = 0; at < many.size(); at += 97)
    completed += client->on_bytes({many.data() + at, std::min<size_t>(97, many.size() - at)}).completed;
  uint64_t allocations = g_allocations - before;
  EXPECT_EQ(completed, uint64_t(kRequests));
  // The queue of owed requests grows in blocks; nothing is allocated per reply.
  EXPECT_LE(allocations, uint64_t(kRequests / 32)) << allocations;
}

}  // namespace
}  // namespace iomodels
