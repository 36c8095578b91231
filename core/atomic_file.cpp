#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace iomodels {
namespace {

[[noreturn]] void fail(int err, const std::string& what, const std::string& tmp_to_remove) {
  if (!tmp_to_remove.empty()) ::unlink(tmp_to_remove.c_str());
  throw std::system_error(err, std::generic_category(), what);
}

// fsync before rename: otherwise a crash can leave the new name pointing at an
// empty file, which is exactly what atomic replacement is meant to avoid.
void sync_and_close(int fd, const std::string& tmp) {
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    fail(e, "fsync(" + tmp + ")", tmp);
  }
  if (::close(fd) != 0 && errno != EINTR) fail(errno, "close(" + tmp + ")", tmp);
}

void rename_over(const std::string& tmp, const std::string& path) {
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail(errno, "rename(" + tmp + ", " + path + ")", tmp);
}

}  // namespace

namespace {

// A path that exists and is not a regular file (a FIFO, /dev/stdout,
// /dev/full) is written in place: a rename would replace the device with a
// file (as root, /dev/full itself), and there is no old content to keep.
bool is_special(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
}

// Writes all of data to fd; 0, or the errno of the write that failed.
int write_all(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    off += static_cast<size_t>(n);
  }
  return 0;
}

void write_in_place(const std::string& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open(" + path + ")");
  if (int e = write_all(fd, data)) {
    ::close(fd);
    throw std::system_error(e, std::generic_category(), "write(" + path + ")");
  }
  if (::close(fd) != 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "close(" + path + ")");
}

}  // namespace

void write_file_atomic(const std::string& path, std::string_view data) {
  if (is_special(path)) return write_in_place(path, data);
  // A unique name per call (mkostemp), so two writers of the same path (two
  // threads, or a harness and a leftover run) never share a temporary file.
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "mkostemp(" + tmp + ")");
  if (::fchmod(fd, 0644) != 0) {  // mkostemp creates 0600; results are meant to be read
    int e = errno;
    ::close(fd);
    fail(e, "fchmod(" + tmp + ")", tmp);
  }
  if (int e = write_all(fd, data)) {
    ::close(fd);
    fail(e, "write(" + tmp + ")", tmp);
  }
  sync_and_close(fd, tmp);
  rename_over(tmp, path);
}

void publish_file_atomic(const std::string& tmp, const std::string& path) {
  int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open(" + tmp + ")");
  sync_and_close(fd, tmp);
  rename_over(tmp, path);
}

}  // namespace iomodels
