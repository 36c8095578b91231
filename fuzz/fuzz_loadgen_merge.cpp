// `loadgen merge`'s input: a loadgen result JSON read back
// (loadgen/result.cpp from_json), merged with another run and written again,
// the steps of loadgen/run.cpp merge_files. Properties: bad input is a
// std::runtime_error or a JSON error (merge_files reports both as
// "<file>: ..."); no crash/UB/leak, and no allocation sized by the file
// (libFuzzer's rss limit). merge also takes HdrHistogram interval logs
// (loadgen/hdr_log.cpp): an input that starts like one is read as one, and
// the log written from what was read must read back.
#include <sstream>

#include "fuzz_util.h"
#include "loadgen/hdr_log.h"
#include "loadgen/result.h"

using namespace iomodels;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (loadgen::looks_like_interval_log(text.substr(0, text.find('\n')))) {
    std::istringstream in(text);
    try {
      loadgen::RunResult r = loadgen::read_interval_log(in);
      std::istringstream again(loadgen::interval_log(r, "t", 0));
      (void)loadgen::read_interval_log(again);
    } catch (const std::runtime_error&) {
    }
    return 0;
  }
  nlohmann::json j = nlohmann::json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    loadgen::RunResult a = loadgen::from_json(j);
    loadgen::RunResult b = a;
    a.merge(b);
    nlohmann::json out = loadgen::to_json(a);
    // What merge writes must read back.
    (void)loadgen::from_json(out);
  } catch (const std::runtime_error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
