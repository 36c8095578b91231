// One repetition over a topology other than loopback: the server on the
// server host, one loadgen per client host, all started through the hosts'
// command prefixes (docs/design.md, "Topologies"; docs/multihost.md).
//
// The loadgens connect, say `ready`, and wait on their stdin: the start
// barrier. Released together, each announces its window on its stdout; the
// server is sampled when the last window starts and when the first one ends
// (the loadgens' common window, by arrival, so hosts' clocks need not agree).
// Their JSON comes back on the same stdout and is merged by `loadgen merge`.
#pragma once
#include <string>

#include "harness/remote/topology.h"
#include "harness/run/run_case.h"

namespace iomodels::harness {

// Whether the harness can sample this host's processes itself (CPU clock,
// signals by pid): a local host, or a namespace on this machine.
bool shares_pid_space(const Host& h);

CaseRun run_one_remote(const CaseEnv& env, const Topology& topo, const std::string& server,
                       const CaseParams& p, int round, bool snapshots,
                       const std::vector<std::string>& server_args = {});

}  // namespace iomodels::harness
