// Replacing a file so that a reader (or a crash) sees the old content or the
// new, never half of it: write a temporary file in the same directory (rename
// is atomic only within one file system), fsync it, rename it over the target.
// The one copy of this rule; the loadgen, the harness and the servers' stats use it.
#pragma once
#include <string>
#include <string_view>

namespace iomodels {

// Throws std::system_error naming the call and the path; no temporary file is
// left behind on failure. A path that is not a regular file (a FIFO,
// /dev/stdout) is written in place, never renamed over.
void write_file_atomic(const std::string& path, std::string_view data);

// For a file another process wrote at `tmp` (in the same directory as `path`):
// fsync it and rename it over `path`. Throws std::system_error.
void publish_file_atomic(const std::string& tmp, const std::string& path);

}  // namespace iomodels
