# Containers: podman_run and podman_run_stream_lines (sync faces; the async
# faces are added when the async engine is there).
target_sources(bounded_subprocess PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/podman_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/podman_run.cpp
)
