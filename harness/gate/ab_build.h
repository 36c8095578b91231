// The two revisions of `harness ab`: resolved with git, checked out with
// `git worktree`, configured with the same flags as this build and built
// (servers and loadgen only) into folders of their own.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace iomodels::harness {

// The base cannot be measured the way the gate measures (it predates the gate,
// it is not in this clone, it does not build): reported, never a CI failure.
struct NoComparableBase : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Revision {
  std::string spec;      // as given: "HEAD^", a sha, or "worktree"
  std::string sha;       // full commit; for the work tree, HEAD's
  std::string label;     // "1791d29" or "worktree (fb36b6e, modified)"
  std::string bin_dir;   // servers, loadgen and servers.json
  std::string message;   // the commit message (for Perf-accepted trailers)
};

struct BuildSettings {
  std::string source_dir;   // the repository (the work tree)
  std::string work_dir;     // where revision worktrees and builds go
  std::string reference_build;  // this build: its CMakeCache gives the flags to reuse
  std::string log_path;     // git and cmake output
  std::vector<std::string> servers;  // the servers to build (empty: every listed one)
};

// The work tree as it is, built in bin_dir (the main build, not rebuilt here).
Revision worktree_revision(const BuildSettings& b, const std::string& bin_dir);

// Checks REV out and builds it. For the base, anything that makes it
// incomparable throws NoComparableBase with the reason; for the head it
// throws std::runtime_error.
Revision build_revision(const BuildSettings& b, const std::string& spec, bool is_base);

// An interrupted gate leaves no worktree behind: the ones build_revision
// added in this process (not those a finished earlier run left to be reused)
// are removed with `git worktree remove --force`, their folders deleted and
// the repository's worktree list pruned. Call after begin_interrupt_cleanup().
void remove_worktrees_added();

// The parts of the tree the gate relies on that a base must have, when the head
// has them: {path, text that must occur in it, what it provides}.
struct GateRequirement {
  const char* path;
  const char* needle;
  const char* what;
};
const std::vector<GateRequirement>& gate_requirements();

}  // namespace iomodels::harness
