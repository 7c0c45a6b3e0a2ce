# Tests of the "keepalived" fencing plugin (plugins/fencing/keepalived).
#
#   fencing.keepalived.unit   cmocka: the plugin fed through real FIFOs as
#                             keepalived's notify_fifo feeds it, fake core
#                             hooks around one in-memory lease shared by two
#                             instances (two nodes). Real keepalived and
#                             real brokers: tests/integration/cluster.
add_executable(test_fencing_keepalived
  ${CMAKE_CURRENT_LIST_DIR}/test_fencing_keepalived.c)
target_link_libraries(test_fencing_keepalived PRIVATE sbhost
                      PkgConfig::CMOCKA Threads::Threads)
target_compile_definitions(test_fencing_keepalived PRIVATE
  SB_PLUGIN_BUILD_DIR="${SB_PLUGIN_BUILD_DIR}")
add_dependencies(test_fencing_keepalived fencing_keepalived)
add_test(NAME fencing.keepalived.unit COMMAND test_fencing_keepalived)
set_tests_properties(fencing.keepalived.unit PROPERTIES
  LABELS "unit;fencing" TIMEOUT 120)
