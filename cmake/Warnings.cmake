# Warnings and sanitizers for the project's own targets.
# bounded_subprocess_project_options is an INTERFACE target every in-tree
# target links privately; it is never installed.
add_library(bounded_subprocess_project_options INTERFACE)
target_compile_options(bounded_subprocess_project_options INTERFACE -Wall -Wextra -Wpedantic)

if(BOUNDED_SUBPROCESS_DEVELOP)
  target_compile_options(bounded_subprocess_project_options INTERFACE
    -Werror -Wshadow -Wconversion -Wno-sign-conversion -fno-omit-frame-pointer)
  if(BOUNDED_SUBPROCESS_TSAN)
    set(_bs_san -fsanitize=thread)
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      # g++ warns that TSan does not model the atomic_thread_fence inside
      # Asio's headers: Asio's code, not ours.
      target_compile_options(bounded_subprocess_project_options INTERFACE -Wno-tsan)
    endif()
  else()
    set(_bs_san -fsanitize=address,undefined -fno-sanitize-recover=all)
  endif()
  target_compile_options(bounded_subprocess_project_options INTERFACE ${_bs_san})
  target_link_options(bounded_subprocess_project_options INTERFACE ${_bs_san})
endif()
