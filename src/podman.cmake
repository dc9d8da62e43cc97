# Containers: podman_run and the podman line streams. Included by
# src/CMakeLists.txt after async.cmake. The sync faces need only the sync
# engine and run_stream_lines; the async faces need Asio (async.cmake).
target_sources(bounded_subprocess PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/podman_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/podman_run.cpp)
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/async.cmake)
  target_sources(bounded_subprocess PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/podman_stream_options.cpp
    ${CMAKE_CURRENT_LIST_DIR}/podman_stream_sync.cpp
    ${CMAKE_CURRENT_LIST_DIR}/podman_async.cpp
    ${CMAKE_CURRENT_LIST_DIR}/podman_stream_async.cpp)
  set_source_files_properties(
    ${CMAKE_CURRENT_LIST_DIR}/podman_async.cpp
    ${CMAKE_CURRENT_LIST_DIR}/podman_stream_async.cpp
    PROPERTIES COMPILE_DEFINITIONS ASIO_NO_DEPRECATED)
endif()
