# Run the micro-benchmarks with a tiny min time and check the JSON is
# well-formed Google Benchmark output: a context object and a non-empty
# benchmarks array whose entries have name, real_time and time_unit.
execute_process(COMMAND ${MICRO} --benchmark_min_time=0.001
                        "--benchmark_filter=/(1|10|100)$|Histogram|Payload|Protocol|Client"
                        --benchmark_format=json --benchmark_out=${OUT} --benchmark_out_format=json
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "iomodels_micro exited ${rc}")
endif()
file(READ ${OUT} text)
string(JSON ctx ERROR_VARIABLE err GET "${text}" context)
if(err)
  message(FATAL_ERROR "micro JSON has no context: ${err}")
endif()
string(JSON n ERROR_VARIABLE err LENGTH "${text}" benchmarks)
if(err OR n LESS 10)
  message(FATAL_ERROR "micro JSON: expected >= 10 benchmarks, got '${n}' ${err}")
endif()
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON name GET "${text}" benchmarks ${i} name)
  string(JSON rt ERROR_VARIABLE err GET "${text}" benchmarks ${i} real_time)
  if(err)
    string(JSON skip ERROR_VARIABLE err2 GET "${text}" benchmarks ${i} error_message)
    if(err2)
      message(FATAL_ERROR "benchmark ${name} has neither real_time nor error_message")
    endif()
  endif()
endforeach()
message(STATUS "micro smoke: ${n} benchmarks, JSON well-formed")
