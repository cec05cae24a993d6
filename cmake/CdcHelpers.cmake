# Small helpers so that each stage links only what it declares (after abseil's AbseilHelpers).
#
#   cdc_library(NAME base SRCS a.cc b.cc DEPS fmt::fmt)
#     -> static library cdc_base; include root is src/, so includes read "base/status.h".
#   cdc_test(NAME base_status_test SRCS status_test.cc DEPS cdc_base)
#     -> a GoogleTest binary registered with ctest, one ctest entry per test case.
#   cdc_test(NAME state_test PREFIX state. ...)
#     -> the ctest entries are named "state.<Suite>.<Case>", so `ctest -R state` selects them.

function(cdc_library)
  cmake_parse_arguments(CDC "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  set(target cdc_${CDC_NAME})
  add_library(${target} STATIC ${CDC_SRCS})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include
                                              ${CMAKE_BINARY_DIR}/generated)
  target_link_libraries(${target} PUBLIC ${CDC_DEPS} PRIVATE ${CDC_PRIVATE_DEPS})
endfunction()

function(cdc_test)
  cmake_parse_arguments(CDC "" "NAME;PREFIX" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${CDC_NAME} ${CDC_SRCS})
  set_target_properties(${CDC_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(${CDC_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${CDC_NAME} PRIVATE ${CDC_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${CDC_NAME} PRIVATE
    CDC_SOURCE_DIR="${PROJECT_SOURCE_DIR}" CDC_BINARY="${CMAKE_BINARY_DIR}/bin/cdc-pipeline")
  if(NOT CDC_LABELS)
    set(CDC_LABELS unit)
  endif()
  gtest_discover_tests(${CDC_NAME} DISCOVERY_MODE PRE_TEST TEST_PREFIX "${CDC_PREFIX}"
                       PROPERTIES LABELS "${CDC_LABELS}")
endfunction()

#   cdc_register_kind(RegisterFileTarget LIBRARY cdc_target)
#     -> the built-in registry (src/registry) calls `void RegisterFileTarget(cdc::Registry&)` and
#        links cdc_target. This is the one line that adds a source or target kind to the binary;
#        call it from the kind's CMakeLists, after its library (and its CMake option) exist.
function(cdc_register_kind function)
  cmake_parse_arguments(CDC "" "LIBRARY" "" ${ARGN})
  set_property(GLOBAL APPEND PROPERTY CDC_BUILTIN_KIND_FUNCTIONS ${function})
  set_property(GLOBAL APPEND PROPERTY CDC_BUILTIN_KIND_LIBRARIES ${CDC_LIBRARY})
endfunction()
