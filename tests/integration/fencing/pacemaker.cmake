# Tests of the "pacemaker" fencing plugin and its OCF resource agent
# (plugins/fencing/pacemaker, conf/ocf/secretbroker); the scripts are in
# tests/integration/pacemaker/.
#
#   fencing.pacemaker.agent   the agent without a cluster: ocf-tester, each
#                             action's OCF code from the broker's real state,
#                             validate-all's refusals, a superseded promoted
#                             node stepping down (SQLite)
set(SB_PCMK_TESTS ${CMAKE_SOURCE_DIR}/tests/integration/pacemaker)

add_test(NAME fencing.pacemaker.agent
         COMMAND bash ${SB_PCMK_TESTS}/agent.sh)
set_tests_properties(fencing.pacemaker.agent PROPERTIES
  LABELS "fencing;pacemaker;sqlite"
  ENVIRONMENT "SB_BUILD=${CMAKE_BINARY_DIR}"
  TIMEOUT 180)
