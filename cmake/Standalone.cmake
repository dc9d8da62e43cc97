# How a whole-process program of the project is linked: `bounded-run`, and
# the floors the bench measures it against (bench/), always the same way,
# so that no ratio gains or loses from the linking alone.
#
# A process that makes one run pays its own start in every ratio: mapping
# shared libraries and resolving their symbols is most of what a small
# program costs beyond exec. Here (2 cores, a VM), a C++ hello world takes
# 1.18 ms with libstdc++.so, 0.78 ms with libstdc++ and libgcc linked in,
# and `bounded-run -- true` 0.15-0.26 ms less again when libc is linked in
# too (-static-pie: no ld.so, no lazy symbol lookups, and still a position
# independent executable, loaded at a random address). glibc's static libc
# warns at link time about what needs its shared runtime (NSS lookups such
# as getpwnam, iconv, dlopen); the project uses none of them.
#
# Not in the sanitizer builds, whose runtimes expect the shared libraries,
# nor with BUILD_SHARED_LIBS, where the program loads the library's .so and
# with it the shared C++ runtime anyway.
# -static-pie is checked by running a program so linked: a toolchain without
# rcrt1.o, or one that links but cannot start it, falls back to linking only
# the C++ runtime in. Never -static-libstdc++ beside -static-pie: with both,
# g++ links a program that jumps to address 0 at its start.
include(CheckCXXSourceRuns)

if(BOUNDED_SUBPROCESS_DEVELOP OR BOUNDED_SUBPROCESS_TSAN OR BUILD_SHARED_LIBS)
  set(BOUNDED_SUBPROCESS_LINK_STANDALONE OFF)
else()
  set(BOUNDED_SUBPROCESS_LINK_STANDALONE ON)
  set(CMAKE_REQUIRED_FLAGS -fPIE)
  set(CMAKE_REQUIRED_LINK_OPTIONS -static-pie)
  check_cxx_source_runs("#include <string>
int main(int argc, char**) { return std::string(argc, 'x').size() == 1 ? 0 : 1; }"
    BOUNDED_SUBPROCESS_HAVE_STATIC_PIE)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
endif()

# bounded_subprocess_link_standalone(TARGET): link TARGET as above.
function(bounded_subprocess_link_standalone target)
  if(NOT BOUNDED_SUBPROCESS_LINK_STANDALONE)
    return()
  endif()
  if(BOUNDED_SUBPROCESS_HAVE_STATIC_PIE)
    set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_link_options(${target} PRIVATE -static-pie)
  else()
    target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc -Wl,--as-needed)
  endif()
endfunction()
