# Installs the current build into a prefix under the build dir, then builds
# and runs a consumer (a) with find_package(bounded_subprocess CONFIG), (b) a
# sync-only one with find_package(... COMPONENTS sync) and no Asio, and (c)
# with the flags from `pkg-config --cflags --libs bounded_subprocess`.
#
# Variables (-D): BS_BUILD_DIR, BS_SOURCE_DIR (the consumer project),
# BS_SYNC_SOURCE_DIR (the sync-only consumer project),
# BS_WORK_DIR, BS_CXX (compiler), BS_CONFIG (build type), BS_EXTRA_FLAGS
# (e.g. sanitizer flags the library was built with; ';'-separated).
cmake_minimum_required(VERSION 3.20)

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# Configures the consumer project `source` against the installed prefix,
# builds it in `build` and runs its program `program`.
function(consume source build program)
  step(${CMAKE_COMMAND} -S ${source} -B ${build}
       -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${BS_CXX}
       -DCMAKE_BUILD_TYPE=${BS_CONFIG} "-DCMAKE_CXX_FLAGS=${extra_flags}"
       "-DCMAKE_EXE_LINKER_FLAGS=${extra_flags}")
  step(${CMAKE_COMMAND} --build ${build})
  step(${build}/${program})
  set(step_output "${step_output}" PARENT_SCOPE)
endfunction()

set(prefix ${BS_WORK_DIR}/prefix)
file(REMOVE_RECURSE ${BS_WORK_DIR})
file(MAKE_DIRECTORY ${BS_WORK_DIR})

# 1. Install the library.
set(config_args "")
if(BS_CONFIG)
  set(config_args --config ${BS_CONFIG})
endif()
step(${CMAKE_COMMAND} --install ${BS_BUILD_DIR} --prefix ${prefix} ${config_args})

# 2. find_package consumer.
string(REPLACE ";" " " extra_flags "${BS_EXTRA_FLAGS}")
consume(${BS_SOURCE_DIR} ${BS_WORK_DIR}/build consumer)
if(NOT step_output MATCHES "consumer ok")
  message(FATAL_ERROR "find_package consumer printed: ${step_output}")
endif()
message(STATUS "find_package consumer: ${step_output}")

# 3. A sync-only consumer (COMPONENTS sync, Asio poisoned in its sources):
# its sync entry points, the line stream included, must not pull any Asio code out
# of the static library either.
consume(${BS_SYNC_SOURCE_DIR} ${BS_WORK_DIR}/build_sync consumer_sync)
if(NOT step_output MATCHES "consumer sync ok")
  message(FATAL_ERROR "sync consumer printed: ${step_output}")
endif()
message(STATUS "sync consumer: ${step_output}")
file(GLOB_RECURSE static_libs ${prefix}/*/libbounded_subprocess.a)
if(static_libs)
  find_program(NM_EXECUTABLE NAMES nm REQUIRED)
  step(${NM_EXECUTABLE} -C ${BS_WORK_DIR}/build_sync/consumer_sync)
  string(REGEX MATCHALL "[^\n]*asio::[^\n]*" asio_symbols "${step_output}")
  if(asio_symbols)
    list(SUBLIST asio_symbols 0 5 first)
    message(FATAL_ERROR "the sync consumer links Asio code, e.g.: ${first}")
  endif()
  message(STATUS "sync consumer: no Asio symbol linked in")
endif()

# 4. pkg-config consumer.
find_program(PKG_CONFIG_EXECUTABLE NAMES pkg-config pkgconf REQUIRED)
file(GLOB_RECURSE pc_files ${prefix}/*/bounded_subprocess.pc)
list(LENGTH pc_files n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "expected one installed bounded_subprocess.pc, found: ${pc_files}")
endif()
get_filename_component(pc_dir ${pc_files} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
step(${PKG_CONFIG_EXECUTABLE} --cflags --libs bounded_subprocess)
string(STRIP "${step_output}" pc_flags)
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
# The flags must point into this prefix, not to the configure-time prefix.
if(NOT pc_flags MATCHES "${prefix}")
  message(FATAL_ERROR "pkg-config flags do not point into ${prefix}: ${pc_flags}")
endif()
step(${BS_CXX} ${BS_EXTRA_FLAGS} -Wall -Wextra -Werror ${BS_SOURCE_DIR}/main.cpp ${pc_flags}
     -o ${BS_WORK_DIR}/consumer_pkgconfig)
step(${BS_WORK_DIR}/consumer_pkgconfig)
if(NOT step_output MATCHES "consumer ok")
  message(FATAL_ERROR "pkg-config consumer printed: ${step_output}")
endif()
message(STATUS "pkg-config consumer: ${step_output}")
