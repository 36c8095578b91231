// The list of servers, as configure wrote it beside the executables
// (build/servers.json, from servers/CMakeLists.txt): the harness knows no
// server names of its own.
#pragma once
#include <string>
#include <vector>

namespace iomodels::harness {

struct ServerInfo {
  std::string name;
  std::string family;  // readiness | threads | signals | completion | framework
  std::string source;  // servers/NAME.cpp
  std::string color;   // #rrggbb, the model's colour in every figure
};

// Reads a servers.json; throws std::runtime_error naming the file and what is wrong.
std::vector<ServerInfo> read_server_list(const std::string& path);

// The servers.json of the build this harness belongs to (beside the harness executable).
std::string server_list_path();

}  // namespace iomodels::harness
