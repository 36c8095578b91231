// StderrCapture: a server started while it lives inherits a stderr that goes to
// a temporary file, which the test reads to check what the server logged.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tests/support/test_support.h"

namespace iomodels::test {

StderrCapture::StderrCapture() {
  char templ[] = "/tmp/iomodels-stderr-XXXXXX";
  int fd = ::mkstemp(templ);
  path_ = templ;
  std::fflush(stderr);
  saved_ = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);
  ::close(fd);
}

StderrCapture::~StderrCapture() {
  restore();
  ::unlink(path_.c_str());
}

void StderrCapture::restore() {
  if (saved_ < 0) return;
  std::fflush(stderr);
  ::dup2(saved_, STDERR_FILENO);
  ::close(saved_);
  saved_ = -1;
}

std::string StderrCapture::text() const {
  std::ifstream f(path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace iomodels::test
