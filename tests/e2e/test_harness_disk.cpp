// A full or read-only results disk: the harness says so and loses no finished run. In a private mount
// namespace (unshare -m: nothing is left mounted whatever happens), a small
// tmpfs holds a results folder with a finished run; then the disk is filled
// (ENOSPC), then remounted read-only (EROFS), and `harness run` is pointed at
// the same folder each time. It must exit non-zero (3) without a crash, name
// the path and the error, and leave the earlier run.json byte for byte (the
// atomic writes: temporary file, fsync, rename) with no temporary file left.
// The loadgen's --output on the full disk must fail the same way.
// Skips without root (mount needs it), saying so.
#include <gtest/gtest.h>
#include <unistd.h>

#include "test_faults_util.h"

namespace iomodels::test::harness {
namespace {

class HarnessDisk : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    for (const std::string& need : {kHarness, kLoadgen, kBin + "/epoll_lt"})
      if (need.empty() || !file_exists(need)) GTEST_SKIP() << "not built: " << (need.empty() ? "a tool" : need);
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: a tmpfs is mounted (in a private mount namespace)";
    if (run_cmd("unshare -m true", 10).exit_code != 0)
      GTEST_SKIP() << "unshare -m fails here (no mount namespaces): cannot mount a scratch tmpfs";
    write_file(dir_ + "/suite.json", R"({"name": "disk", "repetitions": 1, "servers": ["epoll_lt"],
        "defaults": {"duration": 0.3, "warmup": 0.1}, "groups": [{"name": "echo", "connections": 2}]})");
  }
};

TEST_F(HarnessDisk, FullOrReadOnlyResultsFolderExitsNamingThePathAndKeepsEarlierResults) {
  const std::string d = dir_, out = d + "/disk/out";
  const std::string run = kHarness + " run --suite " + d + "/suite.json --out " + out + " --bin-dir " + kBin +
                          " --calibration-ms 0 --progress off";
  // Each step's exit status and output land in D (outside the tmpfs, which
  // goes with the namespace).
  write_file(d + "/disk.sh",
             "set -u\nmkdir -p " + d + "/disk\nmount -t tmpfs -o size=4m tmpfs " + d + "/disk || exit 90\n" +
                 run + " > " + d + "/first.log 2>&1; echo $? > " + d + "/first.rc\n"
                 "cp " + out + "/run.json " + d + "/earlier.json\n"
                 "dd if=/dev/zero of=" + d + "/disk/fill bs=64k > /dev/null 2>&1\n" +
                 run + " > " + d + "/full.log 2>&1; echo $? > " + d + "/full.rc\n"
                 "cmp -s " + out + "/run.json " + d + "/earlier.json && echo same > " + d + "/full.same\n"
                 "ls " + out + " > " + d + "/full.ls\n" +
                 // the loadgen's --output on the same full disk
                 kBin + "/epoll_lt --port 0 > " + d + "/srv.out &\nsrv=$!\n"
                 "for i in $(seq 1 100); do grep -q listening " + d + "/srv.out && break; sleep 0.05; done\n"
                 "port=$(sed -n 's/listening .*:\\([0-9]*\\)/\\1/p' " + d + "/srv.out)\n" +
                 kLoadgen + " --target 127.0.0.1:$port --connections 1 --duration 0.2 --progress off --output " + d +
                 "/disk/lg.json > " + d + "/lg.log 2>&1; echo $? > " + d + "/lg.rc\nkill $srv; wait $srv\n"
                 "rm -f " + d + "/disk/fill\nmount -o remount,ro " + d + "/disk || exit 91\n" +
                 run + " > " + d + "/ro.log 2>&1; echo $? > " + d + "/ro.rc\n"
                 "cmp -s " + out + "/run.json " + d + "/earlier.json && echo same > " + d + "/ro.same\nexit 0\n");
  const std::string marker = "IOMODELS_TEST_MARKER=disk" + std::to_string(::getpid());
  CmdResult r = run_cmd("env " + marker + " unshare -m --propagation private sh " + d + "/disk.sh", 120);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_EQ(read_file(d + "/first.rc"), "0\n") << read_file(d + "/first.log");

  // ENOSPC: exit 3 (never a signal's 128+), the path and the error named.
  const std::string full = read_file(d + "/full.log");
  EXPECT_EQ(read_file(d + "/full.rc"), "3\n") << full;
  EXPECT_NE(full.find("No space left on device"), std::string::npos) << full;
  EXPECT_NE(full.find(out), std::string::npos) << "the error should name the path:\n" << full;
  EXPECT_EQ(read_file(d + "/full.same"), "same\n") << "the earlier run.json changed";
  EXPECT_EQ(read_file(d + "/full.ls").find(".tmp."), std::string::npos) << read_file(d + "/full.ls");

  // The loadgen on the full disk: exit 1 naming its --output, not a silent 0.
  const std::string lg = read_file(d + "/lg.log");
  EXPECT_EQ(read_file(d + "/lg.rc"), "1\n") << lg;
  EXPECT_NE(lg.find("No space left on device"), std::string::npos) << lg;
  EXPECT_NE(lg.find(d + "/disk/lg.json"), std::string::npos) << lg;

  // EROFS: the same, with the read-only error.
  const std::string ro = read_file(d + "/ro.log");
  EXPECT_EQ(read_file(d + "/ro.rc"), "3\n") << ro;
  EXPECT_NE(ro.find("Read-only file system"), std::string::npos) << ro;
  EXPECT_NE(ro.find(out), std::string::npos) << "the error should name the path:\n" << ro;
  EXPECT_EQ(read_file(d + "/ro.same"), "same\n") << "the earlier run.json changed";
  EXPECT_TRUE(wait_marked_gone(marker, 3000).empty()) << "processes left behind";
}

}  // namespace
}  // namespace iomodels::test::harness
