# Integration tests run against a sandbox of real servers (tests/sandbox).
# daneroll_sandbox_fixture(NAME NET [sandbox-up options...]) registers two
# CTest tests that bring the sandbox up before, and down after, every test
# that has FIXTURES_REQUIRED NAME; the tests find it through the environment
# variable DANEROLL_SANDBOX_DIR. Each fixture gets its own /24 on loopback so
# fixtures can run in parallel.
function(daneroll_sandbox_fixture name net)
  set(dir ${CMAKE_BINARY_DIR}/sb/${name})
  add_test(NAME ${name}_up
    COMMAND ${PROJECT_SOURCE_DIR}/tests/sandbox/sandbox-fixture up ${dir} --net ${net} ${ARGN})
  add_test(NAME ${name}_down
    COMMAND ${PROJECT_SOURCE_DIR}/tests/sandbox/sandbox-fixture down ${dir})
  set_tests_properties(${name}_up PROPERTIES FIXTURES_SETUP ${name} LABELS integration)
  set_tests_properties(${name}_down PROPERTIES FIXTURES_CLEANUP ${name} LABELS integration)
  set(DANEROLL_SANDBOX_DIR_${name} ${dir} PARENT_SCOPE)
endfunction()
