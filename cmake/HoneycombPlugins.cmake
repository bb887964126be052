# honeycomb_add_service(name sources...) / honeycomb_add_integration(name sources...)
#
# Builds a built-in plugin as an OBJECT library (so the linker cannot drop
# its self-registering static object) and stages its folder's config.json and
# README into the plugin library under the build tree (installed alike).
set(HONEYCOMB_BUILTIN_PLUGINS "" CACHE INTERNAL "")
set(HONEYCOMB_BUILTIN_INTEGRATIONS "" CACHE INTERNAL "")  # the integrations alone (honeycomb-node's outputs)

function(_honeycomb_add_plugin kind name)
  set(target hc_${kind}_${name})
  add_library(${target} OBJECT ${ARGN})
  target_compile_definitions(${target} PRIVATE HONEYCOMB_BUILTIN)
  target_link_libraries(${target} PRIVATE honeycomb_host)
  honeycomb_warnings(${target})
  set(HONEYCOMB_BUILTIN_PLUGINS ${HONEYCOMB_BUILTIN_PLUGINS} ${target} CACHE INTERNAL "")
  if(kind STREQUAL "integration")
    set(HONEYCOMB_BUILTIN_INTEGRATIONS ${HONEYCOMB_BUILTIN_INTEGRATIONS} ${target} CACHE INTERNAL "")
  endif()
  set(dest ${HONEYCOMB_LIBRARY_DIR}/${kind}s/${name})
  foreach(f config.json README.md)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${f})
      configure_file(${CMAKE_CURRENT_SOURCE_DIR}/${f} ${dest}/${f} COPYONLY)
    endif()
  endforeach()
endfunction()

function(honeycomb_add_service name)
  _honeycomb_add_plugin(service ${name} ${ARGN})
endfunction()

function(honeycomb_add_integration name)
  _honeycomb_add_plugin(integration ${name} ${ARGN})
endfunction()
