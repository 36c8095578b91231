#include <gtest/gtest.h>

#include <string>

#include "core/buffer.h"

namespace iomodels {
namespace {

TEST(Buffer, AppendConsumeView) {
  Buffer b(8);
  EXPECT_TRUE(b.empty());
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(b.readable_bytes(), 11u);
  EXPECT_EQ(b.view(), "hello world");
  b.consume(6);
  EXPECT_EQ(b.view(), "world");
  b.consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(Buffer, WritableSpanAndCommit) {
  Buffer b(4);
  auto span = b.writable_span(10);
  ASSERT_GE(span.size(), 10u);
  std::memcpy(span.data(), "0123456789", 10);
  b.commit(10);
  EXPECT_EQ(b.view(), "0123456789");
  EXPECT_GE(b.capacity(), 10u);
}

TEST(Buffer, SlidesDownBeforeGrowing) {
  Buffer b(16);
  b.append(std::string(12, 'a'));
  b.consume(10);
  b.append(std::string(10, 'b'));  // fits once the 2 live bytes slide to the front
  EXPECT_EQ(b.capacity(), 16u);
  EXPECT_EQ(b.view(), "aa" + std::string(10, 'b'));
}

TEST(Buffer, GrowsForLargeAppendsAndKeepsContent) {
  Buffer b(0);
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    std::string piece(static_cast<size_t>(i % 37 + 1), static_cast<char>('a' + i % 26));
    b.append(piece);
    expect += piece;
    if (i % 3 == 0) {
      b.consume(5);
      expect.erase(0, 5);
    }
  }
  EXPECT_EQ(b.view(), expect);
}

TEST(Buffer, ShrinkIfIdleOnlyWhenEmpty) {
  Buffer b;
  b.append(std::string(1 << 20, 'x'));
  b.shrink_if_idle();
  EXPECT_GE(b.capacity(), 1u << 20);  // still holding data
  b.clear();
  b.shrink_if_idle();
  EXPECT_EQ(b.capacity(), 64u * 1024);
}

}  // namespace
}  // namespace iomodels
