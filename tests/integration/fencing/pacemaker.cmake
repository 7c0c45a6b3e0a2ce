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

# With real Pacemaker and corosync (tests/fixtures/pacemaker.sh: each node
# in network and mount namespaces of its own), the brokers run by the
# agent as a promotable clone; they hold the cluster tests' lock, as their
# monitors and timeouts should not compete with another cluster test for
# the two cores of a CI machine.
#
#   cluster.pacemaker_one_node  one node promotes the broker; a node
#                               without the secret is never promoted
#                               (SQLite)
#   cluster.pacemaker.BACKEND   two nodes: a failed monitor, a planned
#                               move, under a writer (asserted on the
#                               database)
#   cluster.pacemaker_cycles.BACKEND  10 cycles, alternately kill -9 of the
#                               promoted node's stack and SIGSTOP of the
#                               promoted broker past the monitor timeout,
#                               under a writer: every acknowledged write
#                               there, none under a superseded epoch
add_test(NAME cluster.pacemaker_one_node
         COMMAND bash ${SB_PCMK_TESTS}/one_node.sh)
set_tests_properties(cluster.pacemaker_one_node PROPERTIES
  LABELS "cluster;pacemaker;sqlite"
  ENVIRONMENT "SB_BUILD=${CMAKE_BINARY_DIR}"
  RESOURCE_LOCK secretbroker_cluster
  TIMEOUT 240)
foreach(backend postgres redis)
  add_test(NAME cluster.pacemaker.${backend}
           COMMAND bash ${SB_PCMK_TESTS}/two_nodes.sh ${backend})
  add_test(NAME cluster.pacemaker_cycles.${backend}
           COMMAND bash ${SB_PCMK_TESTS}/cycles.sh ${backend})
  set_tests_properties(cluster.pacemaker.${backend}
                       cluster.pacemaker_cycles.${backend} PROPERTIES
    LABELS "cluster;pacemaker;${backend}"
    ENVIRONMENT "SB_BUILD=${CMAKE_BINARY_DIR}"
    RESOURCE_LOCK secretbroker_cluster
    TIMEOUT 400)
endforeach()
