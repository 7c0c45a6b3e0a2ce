# Tests of the "lease" fencing plugin (plugins/fencing/lease).
#
#   fencing.lease.unit    cmocka, fake core hooks standing in for the
#                         storage lease (the plugin's only boundary)
add_executable(test_fencing_lease ${CMAKE_CURRENT_LIST_DIR}/test_fencing_lease.c)
target_link_libraries(test_fencing_lease PRIVATE sbhost PkgConfig::CMOCKA
                      Threads::Threads)
target_compile_definitions(test_fencing_lease PRIVATE
  SB_PLUGIN_BUILD_DIR="${SB_PLUGIN_BUILD_DIR}")
add_dependencies(test_fencing_lease fencing_lease)
add_test(NAME fencing.lease.unit COMMAND test_fencing_lease)
set_tests_properties(fencing.lease.unit PROPERTIES LABELS "unit;fencing"
                     TIMEOUT 120)

# fencing.lease.sqlite: two node processes on the REAL sqlite storage
# plugin, one database file; SIGKILL, clean stop and SIGSTOP/SIGCONT of the
# active node (see lease_cluster_driver.c). The driver's own instance
# waits at most 100 ms for the file lock (its pause probe).
add_executable(sb-fencing-lease-cluster
  ${CMAKE_CURRENT_LIST_DIR}/lease_cluster_driver.c
  ${CMAKE_CURRENT_LIST_DIR}/lease_cluster_node.c)
target_link_libraries(sb-fencing-lease-cluster PRIVATE sbhost
                      Threads::Threads)
add_dependencies(sb-fencing-lease-cluster fencing_lease)
if(TARGET storage_sqlite)
  add_dependencies(sb-fencing-lease-cluster storage_sqlite)
  add_test(NAME fencing.lease.sqlite
           COMMAND sb-fencing-lease-cluster --plugin-dir ${SB_PLUGIN_BUILD_DIR}
                   --plugin sqlite --set path=lease.db
                   --set busy_timeout_ms=2000
                   --driver-set busy_timeout_ms=100)
  set_tests_properties(fencing.lease.sqlite PROPERTIES
    LABELS "fencing;sqlite" TIMEOUT 120
    FAIL_REGULAR_EXPRESSION "^not ok|\nnot ok")
endif()

# The same test on PostgreSQL and Redis, through the servers the postgres
# and redis test directories start as ctest fixtures (pg_server,
# redis_server). Their state files live where those directories put them:
# keep these paths in step with tests/integration/postgres and tests/integration/redis.
if(TARGET storage_postgres AND EXISTS ${CMAKE_SOURCE_DIR}/tests/fixtures/postgres.sh)
  add_dependencies(sb-fencing-lease-cluster storage_postgres)
  add_test(NAME fencing.lease.postgres
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lease_postgres.sh
                   $<TARGET_FILE:sb-fencing-lease-cluster>
                   ${SB_PLUGIN_BUILD_DIR}
                   ${CMAKE_BINARY_DIR}/tests/integration/postgres/pg-main.env
                   ${CMAKE_SOURCE_DIR}/tests/fixtures/postgres.sh)
  set_tests_properties(fencing.lease.postgres PROPERTIES
    LABELS "fencing;postgres" TIMEOUT 120 FIXTURES_REQUIRED pg_server
    FAIL_REGULAR_EXPRESSION "^not ok|\nnot ok")
endif()
if(TARGET storage_redis AND EXISTS ${CMAKE_SOURCE_DIR}/tests/fixtures/redis.sh)
  add_dependencies(sb-fencing-lease-cluster storage_redis)
  add_test(NAME fencing.lease.redis
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/lease_redis.sh
                   $<TARGET_FILE:sb-fencing-lease-cluster>
                   ${SB_PLUGIN_BUILD_DIR}
                   ${CMAKE_BINARY_DIR}/tests/integration/redis/redis-fixture)
  set_tests_properties(fencing.lease.redis PROPERTIES
    LABELS "fencing;redis" TIMEOUT 120 FIXTURES_REQUIRED redis_server
    FAIL_REGULAR_EXPRESSION "^not ok|\nnot ok")
endif()

# These tests check deadlines measured in a few hundred milliseconds; other
# tests running beside them on a 2-vCPU machine can starve their threads
# long enough to miss one. Run them alone.
foreach(t fencing.lease.unit fencing.lease.sqlite fencing.lease.postgres
          fencing.lease.redis)
  if(TEST ${t})
    set_tests_properties(${t} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()
