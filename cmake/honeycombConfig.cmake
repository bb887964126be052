# find_package(honeycomb) for out-of-tree plugins: provides honeycomb::sdk
# and honeycomb_add_plugin_library(name sources...) that builds
# <name>_service.so with the SDK's settings.
include(${CMAKE_CURRENT_LIST_DIR}/honeycombTargets.cmake)

function(honeycomb_add_service_plugin name)
  add_library(${name}_service MODULE ${ARGN})
  target_link_libraries(${name}_service PRIVATE honeycomb::sdk)
  set_target_properties(${name}_service PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden)
endfunction()
