// The pages of `harness compare --html` and `harness ab`, drawn by
// plots/compare_page.py from the documents the gate writes.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace iomodels::harness {

// Writes DOC (compare_runs' record) as JSON_PATH, then the page OUT_HTML
// (render_compare_page, model panels from CURRENT_RUN).
// Runs plots/compare_page.py (of the repository this harness was built from)
// on JSON_PATH (iomodels.compare/1 or iomodels.ab/1), writing OUT_HTML; panels
// from HEAD_RUN (empty: the page looks beside an ab.json). Throws
// std::runtime_error naming what failed.
void render_compare_page(const std::string& json_path, const std::string& out_html, const std::string& head_run);
void write_compare_page(const nlohmann::json& doc, const std::string& json_path, const std::string& out_html,
                        const std::string& current_run);

}  // namespace iomodels::harness
