// The pages of `harness compare --html` and `harness ab` (plots/compare_page.py):
// regressions first, each with its interval, then the model panels; a CI job
// can publish them.
#include <sys/wait.h>

#include <filesystem>
#include <stdexcept>

#include "core/atomic_file.h"
#include "harness/pages/compare_page.h"
#include "harness/run/process.h"

#ifndef IOMODELS_AB_SOURCE_DIR
#define IOMODELS_AB_SOURCE_DIR "."
#endif

namespace iomodels::harness {

void render_compare_page(const std::string& json_path, const std::string& out_html, const std::string& head_run) {
  SpawnOptions so;
  so.argv = {"/usr/bin/python3", std::string(IOMODELS_AB_SOURCE_DIR) + "/plots/compare_page.py", json_path, out_html};
  if (!head_run.empty()) so.argv.insert(so.argv.end(), {"--run", head_run});
  so.stdout_to_null = true;
  Child page(so);
  if (!page.wait_exit(120'000)) throw std::runtime_error("plots/compare_page.py did not finish in 120 s");
  if (!WIFEXITED(page.raw_status()) || WEXITSTATUS(page.raw_status()) != 0)
    throw std::runtime_error("plots/compare_page.py " + page.describe_exit() + " (its message is above)");
}

void write_compare_page(const nlohmann::json& doc, const std::string& json_path, const std::string& out_html,
                        const std::string& current_run) {
  auto dir = std::filesystem::path(json_path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  write_file_atomic(json_path, doc.dump(1) + "\n");
  render_compare_page(json_path, out_html, current_run);
}

}  // namespace iomodels::harness
