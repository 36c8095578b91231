// loadgen: the load generator (docs/design.md, "Loadgen"). Everything lives in the library
// (loadgen/run.h) so that tests reach it; this is only the entry point.
//   ./build/loadgen --target 127.0.0.1:7000 --connections 50 --duration 5
//   ./build/loadgen --target 127.0.0.1:7000 --rate 20000 --output r.json
//   ./build/loadgen merge a.json b.json > merged.json
#include <string>
#include <vector>

#include "loadgen/run.h"

int main(int argc, char** argv) {
  return iomodels::loadgen::loadgen_main(std::vector<std::string>(argv + 1, argv + argc));
}
