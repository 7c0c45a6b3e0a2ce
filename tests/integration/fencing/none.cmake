# Unit test of the "none" fencing plugin with fake core hooks (the plugin
# talks to nothing but the hooks, so fakes are the real boundary here).
add_executable(test_fencing_none ${CMAKE_CURRENT_LIST_DIR}/test_fencing_none.c)
target_link_libraries(test_fencing_none PRIVATE sbhost PkgConfig::CMOCKA
                      Threads::Threads)
target_compile_definitions(test_fencing_none PRIVATE
  SB_PLUGIN_BUILD_DIR="${SB_PLUGIN_BUILD_DIR}")
add_dependencies(test_fencing_none fencing_none)
add_test(NAME fencing.none COMMAND test_fencing_none)
set_tests_properties(fencing.none PROPERTIES LABELS "unit" TIMEOUT 60)
