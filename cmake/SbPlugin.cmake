# sb_add_plugin(KIND NAME SOURCES... [LIBS targets...] [NOINSTALL])
# Builds PLUGIN_DIR/KIND_NAME.so as a MODULE with only sb_plugin_entry
# exported, against include/secretbroker/plugin.h alone.
function(sb_add_plugin kind name)
  cmake_parse_arguments(P "NOINSTALL" "" "SOURCES;LIBS" ${ARGN})
  set(target ${kind}_${name})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME ${kind}_${name}
    LIBRARY_OUTPUT_DIRECTORY ${SB_PLUGIN_BUILD_DIR}
    C_VISIBILITY_PRESET hidden)
  target_include_directories(${target} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  if(P_LIBS)
    target_link_libraries(${target} PRIVATE ${P_LIBS})
  endif()
  # Undefined symbols would only show at dlopen time; catch them at link time.
  # (Not under ASan or the fuzz build: the runtime lives in the executable.)
  if(NOT SB_SANITIZE AND NOT SB_FUZZ)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  if(NOT P_NOINSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${SB_PLUGIN_INSTALL_RELDIR})
  endif()
endfunction()
