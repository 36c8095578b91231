// The io_uring task-running setups and their fallback chain, apart from
// liburing so that the chain is unit-tested without a ring (tests/unit).
#pragma once
#include <cerrno>
#include <string>
#include <vector>

namespace iomodels {

enum class RingSetup { kPlain = 0, kCoop = 1, kDefer = 2 };
inline const std::vector<std::string>& ring_setup_names() {
  static const std::vector<std::string> names = {"plain", "coop", "defer"};
  return names;
}

// Calls create(setup); while the kernel refuses the flags (-EINVAL: older than
// the flag), steps down defer -> coop -> plain, calling note(from, to) before
// each retry. A kernel from 5.7 to 5.18 has neither task-running flag but
// runs `plain`, so a model must not exit there. No step with SQPOLL: it
// already means plain (the kernel allows no task-running flag with it).
// Returns create's last result; `setup` is the one it was given.
template <class Create, class Note>
int create_with_fallback(RingSetup& setup, bool sqpoll, Create&& create, Note&& note) {
  int r = create(setup);
  while (r == -EINVAL && !sqpoll && setup != RingSetup::kPlain) {
    RingSetup next = setup == RingSetup::kDefer ? RingSetup::kCoop : RingSetup::kPlain;
    note(setup, next);
    r = create(setup = next);
  }
  return r;
}

}  // namespace iomodels
