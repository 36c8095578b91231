#include "harness/run/run_slots.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "harness/run/case_record.h"
#include "harness/run/results.h"
#include "harness/run/run_setup.h"

namespace iomodels::harness {

using nlohmann::json;

std::vector<Slot> plan_slots(const Suite& suite, const std::vector<std::string>& servers, const RunOptions& opt,
                             const std::string& bin_dir) {
  std::vector<Slot> slots;
  const std::string reference = kReferenceServer;
  const bool have_reference = std::find(servers.begin(), servers.end(), reference) != servers.end();
  for (const auto& c : suite.cases) {
    const auto& wanted = c.servers.empty() ? servers : c.servers;
    // --repetitions overrides every group's rounds, not just the suite's.
    const int reps = opt.repetitions > 0 ? opt.repetitions : c.repetitions > 0 ? c.repetitions : suite.repetitions;
    auto add_slot = [&](const CaseLabel& label, const std::vector<std::string>& args, const json& extra) {
      Slot slot;
      slot.params = &c.params;
      slot.server_args = args;
      slot.repetitions = reps;
      slot.counted_round = c.count_syscalls && opt.count_syscalls == "auto";
      slot.record = new_case_record(label, c.group, c.params, args);
      for (const auto& [k, v] : extra.items()) slot.record[k] = v;
      std::string path = bin_dir + "/" + label.server;
      if (is_executable(path)) {
        slot.path = path;
      } else {
        // The list says this server exists; a build without it is broken, not a smaller run.
        slot.record["status"] = "failed";
        slot.record["reason"] = "listed in servers.json but not built: no executable " + path;
      }
      slots.push_back(std::move(slot));
    };
    if (have_reference && std::find(wanted.begin(), wanted.end(), reference) == wanted.end())
      add_slot({reference, "ref " + c.group, c.params.id(), ""}, {}, {{"role", "group_reference"}});
    for (const auto& s : servers) {
      if (std::find(wanted.begin(), wanted.end(), s) == wanted.end()) continue;
      for (const auto& args : c.variants(s)) add_slot(case_label(s, args, c.params), args, json::object());
    }
    // Last in the block: the farthest in time from the reference, so its
    // spread bounds what drift within a block can do to any model's ratio.
    if (c.aa && have_reference)
      // No slash in the variant: readers older than case_id split names at the first one.
      add_slot({reference, "aa", c.params.id(), ""}, {}, {{"aa", true}, {"role", "aa"}});
  }
  return slots;
}

void resume_slots(std::vector<Slot>& slots, const json& before) {
  if (before.size() != slots.size())
    throw std::invalid_argument("--resume: the suite now gives " + std::to_string(slots.size()) +
                                " cases, the interrupted run had " + std::to_string(before.size()));
  for (size_t k = 0; k < slots.size(); ++k) {
    if (before[k].value("name", "") != slots[k].record["name"])
      throw std::invalid_argument("--resume: case " + std::to_string(k) + " is now " +
                                  slots[k].record["name"].get<std::string>() + ", was " + before[k].value("name", "?"));
    // A part written before records carried case_id and variant gains them.
    const json fresh = std::exchange(slots[k].record, before[k]);
    slots[k].record["case_id"] = fresh["case_id"];
    slots[k].record["variant"] = fresh["variant"];
    slots[k].record.erase("aggregate");
    unmark_pending(slots[k].record);
    slots[k].failures = before[k].value("failures", std::vector<std::string>{});
  }
}

std::string add_round(Slot& slot, CaseRun r, int round) {
  if (!r.rep.is_null()) slot.record["repetitions"].push_back(std::move(r.rep));
  if (r.status == "ok") return "";
  slot.failures.push_back("rep " + std::to_string(round + 1) + ": " + r.reason);
  slot.record["status"] = worse_status(slot.record["status"], r.status);
  slot.record["reason"] = slot.failures.front() +
                          (slot.failures.size() > 1 ? " (+" + std::to_string(slot.failures.size() - 1) + " more)" : "");
  slot.record["failures"] = slot.failures;
  return r.status + ": " + slot.failures.back();
}

}  // namespace iomodels::harness
