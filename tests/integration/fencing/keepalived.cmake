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

#   fencing.keepalived.fixture   tests/fixtures/keepalived.sh on two real
#                                keepalived daemons in two network
#                                namespaces, no broker: the FIFO lines on
#                                MASTER/BACKUP/STOP, failover after SIGKILL
#                                and SIGTERM (timed), split brain and heal,
#                                the sbctl health check's exit-status
#                                mapping, a restart under a read-write
#                                FIFO reader; and the shipped
#                                conf/keepalived/keepalived.conf.example.
# Needs root and keepalived, nft, ip (scripts/install-deps.sh).
add_test(NAME fencing.keepalived.fixture
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/keepalived_fixture.sh)
set_tests_properties(fencing.keepalived.fixture PROPERTIES
  LABELS "fencing;keepalived" TIMEOUT 180
  ENVIRONMENT "SB_BUILD=${CMAKE_BINARY_DIR};SBCTL=$<TARGET_FILE:sbctl>"
  # Failover times in tenths of a second: run alone, as the lease tests do.
  RUN_SERIAL TRUE
  FAIL_REGULAR_EXPRESSION "^not ok|\nnot ok")
