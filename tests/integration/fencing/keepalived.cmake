# Tests of the keepalived fencing plugin (plugins/fencing/keepalived, issue
# 11) and of its fixture.
#
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
