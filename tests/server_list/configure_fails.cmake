# cmake -DSRC=<source dir> -DWORK=<scratch dir> -P configure_fails.cmake
# A server listed without its source must fail configure, naming the server.
file(REMOVE_RECURSE ${WORK})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SRC}/tests/server_list/listed_without_source -B ${WORK}
          -DIOMODELS_SOURCE_DIR=${SRC}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0)
  message(FATAL_ERROR "configure succeeded although no_such_model has no source")
endif()
if(NOT err MATCHES "no_such_model.*listed but its source")
  message(FATAL_ERROR "configure failed for another reason:\n${err}")
endif()
file(REMOVE_RECURSE ${WORK})
message(STATUS "configure refused the listed server without a source, as it should")
