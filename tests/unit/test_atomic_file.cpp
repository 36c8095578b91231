// core/atomic_file: the one write-temp, fsync, rename helper.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <system_error>

#include "core/atomic_file.h"

namespace iomodels {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t entries(const std::string& dir) {
  size_t n = 0;
  DIR* d = ::opendir(dir.c_str());
  while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

TEST(AtomicFile, WritesReplacesAndLeavesNoTemporary) {
  char tmpl[] = "/tmp/atomic-file-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string path = dir + "/r.json";
  write_file_atomic(path, "first\n");
  EXPECT_EQ(slurp(path), "first\n");
  write_file_atomic(path, std::string(100000, 'x'));
  EXPECT_EQ(slurp(path), std::string(100000, 'x'));
  write_file_atomic(path, "");
  EXPECT_EQ(slurp(path), "");
  EXPECT_EQ(entries(dir), 1u);  // only r.json: no temporary left behind
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  // publish: a file someone else wrote, moved into place.
  std::string part = dir + "/m.json.part";
  std::ofstream(part) << "bench";
  publish_file_atomic(part, dir + "/m.json");
  EXPECT_EQ(slurp(dir + "/m.json"), "bench");
  EXPECT_EQ(entries(dir), 2u);
  std::remove(path.c_str());
  std::remove((dir + "/m.json").c_str());
  ::rmdir(dir.c_str());
}

TEST(AtomicFile, FailureNamesThePath) {
  try {
    write_file_atomic("/nonexistent-dir/x.json", "data");
    FAIL() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.json"), std::string::npos) << e.what();
  }
  EXPECT_THROW(publish_file_atomic("/nonexistent-dir/a", "/nonexistent-dir/b"), std::system_error);
}

// --output /dev/stdout, a FIFO, /dev/full: written in place, never replaced
// by a file (as root the rename used to turn /dev/full into a regular file).
// A FIFO here, so that a broken guard costs a temp folder, not a device.
TEST(AtomicFile, SpecialFilesAreWrittenInPlaceNotReplaced) {
  char tmpl[] = "/tmp/atomic-file-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The read end first, non-blocking: the writer's open then succeeds at once,
  // and a broken guard (the FIFO renamed over) fails here instead of hanging.
  int rd = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(rd, 0);
  write_file_atomic(fifo, "through the pipe\n");
  char buf[64] = {};
  ssize_t n = ::read(rd, buf, sizeof buf);
  ::close(rd);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "through the pipe\n");
  struct stat st{};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  EXPECT_EQ(entries(dir), 1u);
  std::remove(fifo.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace iomodels
