# The async faces (async_run, the shared memory watchdog, line streams),
# on standalone Asio (Debian: libasio-dev). Included by src/CMakeLists.txt.
find_path(BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR asio.hpp)
if(NOT BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR)
  message(FATAL_ERROR "standalone Asio (asio.hpp) not found: install libasio-dev")
endif()
target_sources(bounded_subprocess PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/async_driver.cpp
  ${CMAKE_CURRENT_LIST_DIR}/async_run.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_watchdog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_async.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_sync.cpp)
target_include_directories(bounded_subprocess PRIVATE ${BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR})
set_source_files_properties(
  ${CMAKE_CURRENT_LIST_DIR}/async_driver.cpp
  ${CMAKE_CURRENT_LIST_DIR}/async_run.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_watchdog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_async.cpp
  ${CMAKE_CURRENT_LIST_DIR}/stream_sync.cpp
  PROPERTIES COMPILE_DEFINITIONS ASIO_NO_DEPRECATED)
# g++ warns (-Wtsan) that TSan does not model the atomic_thread_fence inside
# Asio's executor ops; that is Asio's code, not ours, so keep it a warning-free
# build by silencing that one diagnostic for the async sources.
if(BOUNDED_SUBPROCESS_TSAN AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  set_property(SOURCE
    ${CMAKE_CURRENT_LIST_DIR}/async_driver.cpp
    ${CMAKE_CURRENT_LIST_DIR}/async_run.cpp
    ${CMAKE_CURRENT_LIST_DIR}/memory_watchdog.cpp
    ${CMAKE_CURRENT_LIST_DIR}/stream_async.cpp
    ${CMAKE_CURRENT_LIST_DIR}/stream_sync.cpp
    APPEND PROPERTY COMPILE_OPTIONS -Wno-tsan)
endif()
