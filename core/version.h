// The version every executable prints and every result records. Defined in a
// file CMake generates at configure time (core/version.cpp.in), so a new commit
// recompiles one file, not every file (a compile definition did the latter, and
// defeated ccache across commits).
#pragma once

namespace iomodels {

const char* project_version();  // e.g. "0.3.0"
const char* git_sha();          // short commit at configure time, or "unknown"

}  // namespace iomodels
