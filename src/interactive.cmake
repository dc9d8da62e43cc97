# The Interactive faces (included by src/CMakeLists.txt). The sync face needs
# nothing beyond libc; the async twin needs the standalone Asio headers
# (Debian: libasio-dev), only to compile interactive_async.cpp.
target_sources(bounded_subprocess PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/interactive.cpp
  ${CMAKE_CURRENT_LIST_DIR}/interactive_core.cpp
  ${CMAKE_CURRENT_LIST_DIR}/interactive_line_buffer.cpp)

find_path(BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR asio.hpp)
if(BOUNDED_SUBPROCESS_ASIO_INCLUDE_DIR)
  target_sources(bounded_subprocess PRIVATE ${CMAKE_CURRENT_LIST_DIR}/interactive_async.cpp)
else()
  message(WARNING "asio.hpp not found: AsyncInteractive is not built (install libasio-dev)")
endif()
