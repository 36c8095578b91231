# iomodels_listed_server_names(<out_var> <servers/CMakeLists.txt>): the names the
# server list gives iomodels_add_server(), read as text, in list order. For a
# build that cannot include the list itself: fuzz/ is a project of its own,
# without the servers' targets. The CTest server_list_fuzz_names checks that it
# reads exactly what the list lists.
function(iomodels_listed_server_names out list_file)
  file(STRINGS ${list_file} _lines REGEX "^[ \t]*iomodels_add_server\\(")
  set(_names "")
  foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "^[ \t]*iomodels_add_server\\([ \t]*([A-Za-z0-9_]+).*$" "\\1" _name "${_line}")
    list(APPEND _names ${_name})
  endforeach()
  set(${out} ${_names} PARENT_SCOPE)
endfunction()
