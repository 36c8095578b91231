# cmake -DSRC=<source dir> "-DEXPECTED=<name;name;...>" -P fuzz_names_match.cmake
# The fuzz build's stand-in server list (fuzz/CMakeLists.txt reads the names from
# servers/CMakeLists.txt as text) must be the list CMake built: same names, same order.
include(${SRC}/cmake/iomodels_server_names.cmake)
iomodels_listed_server_names(got ${SRC}/servers/CMakeLists.txt)
if(NOT got STREQUAL EXPECTED)
  message(FATAL_ERROR "the fuzz build would read the servers '${got}' from servers/CMakeLists.txt, "
                      "but the list has '${EXPECTED}' (cmake/iomodels_server_names.cmake)")
endif()
list(LENGTH got n)
message(STATUS "the fuzz build reads the same ${n} servers as the list")
