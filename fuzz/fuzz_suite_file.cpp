// The harness's suite-file reader (harness/run/suite.cpp) on arbitrary files.
// Property: load_suite either returns a suite or throws SuiteError (its
// contract: the user is told which field is wrong); no other exception, no
// crash/UB/leak, no runaway expansion (libFuzzer's timeout and rss limit).
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "harness/run/suite.h"

using namespace iomodels;

// The real list is read from build/servers.json beside the harness
// (harness/run/server_list.cpp, which needs runner.cpp); here the same names, read
// from the list (servers/CMakeLists.txt) when fuzz/ is configured.
const std::vector<std::string>& iomodels::harness::known_servers() {
  static const std::vector<std::string> names{
#include "listed_servers.inc"
  };
  return names;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The real entry point reads a path: hand it an in-memory file.
  static int fd = ::memfd_create("suite.json", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  fuzz::require(fd >= 0 && ::ftruncate(fd, 0) == 0 &&
                    ::pwrite(fd, data, size, 0) == static_cast<ssize_t>(size),
                "memfd write");
  try {
    harness::Suite s = harness::load_suite(path);
    for (const auto& c : s.cases) (void)c.params.id();
  } catch (const harness::SuiteError&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "not a SuiteError: %s\n", e.what());
    fuzz::fail("load_suite throws only SuiteError");
  }
  return 0;
}
