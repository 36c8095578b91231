#include "harness/run/server_list.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "harness/run/runner.h"
#include "harness/run/suite.h"

namespace iomodels::harness {

std::vector<ServerInfo> read_server_list(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw std::runtime_error("no server list " + path +
                             " (configure writes it from servers/CMakeLists.txt: cmake -S . -B build)");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_array()) throw std::runtime_error(path + ": not a JSON array of servers");
  std::vector<ServerInfo> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string())
      throw std::runtime_error(path + ": an entry has no \"name\"");
    out.push_back({e["name"], e.value("family", ""), e.value("source", ""), e.value("color", "")});
  }
  return out;
}

std::string server_list_path() { return self_dir() + "/servers.json"; }

const std::vector<std::string>& known_servers() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& s : read_server_list(server_list_path())) v.push_back(s.name);
    return v;
  }();
  return names;
}

}  // namespace iomodels::harness
