# Extracts every ```cpp block of a Markdown file into one C++ file, so that
# the examples of the README and of the docs/ pages are compiled
# (tests/readme/CMakeLists.txt).
#
# Variables (-D): MARKDOWN (input), MARKDOWN_NAME (its name in comments),
# PREFIX (a C identifier naming the page, so that the pages' namespaces
# differ), ALLOW_EMPTY (ON: a page without a C++ block gives a file that
# compiles to nothing), OUTPUT (the .cpp to write).
#
# Each block becomes a namespace of its own, under the umbrella header with
# `using namespace bounded_subprocess;` and `std::chrono_literals` (which every
# page says its examples assume). A block's #include lines go to the top. A
# block whose code starts with a function definition stays at namespace
# scope; any other block is the body of a function: a coroutine
# `asio::awaitable<void>(asio::any_io_executor ex)` when it uses co_await,
# else `void()`. Blocks that use co_await are compiled where Asio offers
# coroutines (ASIO_HAS_CO_AWAIT: g++; Debian's Asio 1.22 has them for clang
# only with libc++).
cmake_minimum_required(VERSION 3.20)

file(READ "${MARKDOWN}" text)
# Make the text a list of lines that survives CMake's list handling.
string(REPLACE ";" "@SEMI@" text "${text}")
string(REPLACE "[" "@LB@" text "${text}")
string(REPLACE "]" "@RB@" text "${text}")
string(REPLACE "\\" "@BS@" text "${text}")
string(REPLACE "\n" ";" lines "${text}")

set(includes "")
set(body "")
set(in_block FALSE)
set(n 0)
set(lineno 0)
foreach(line IN LISTS lines)
  math(EXPR lineno "${lineno} + 1")
  if(NOT in_block)
    if(line STREQUAL "```cpp")
      set(in_block TRUE)
      set(block_start ${lineno})
      set(code "")
      set(first_code "")
      set(coro FALSE)
    endif()
    continue()
  endif()
  if(line STREQUAL "```")
    set(in_block FALSE)
    math(EXPR n "${n} + 1")
    string(APPEND body "\n// ${MARKDOWN_NAME}, the block at line ${block_start}\n")
    if(coro)
      string(APPEND body "#ifdef ASIO_HAS_CO_AWAIT\n")
    endif()
    string(APPEND body "namespace ${PREFIX}_example_${n} {\n")
    if(first_code MATCHES "^[A-Za-z_][A-Za-z0-9_:<>]*( [A-Za-z0-9_:<>*&]+)* [A-Za-z_][A-Za-z0-9_]*\\(.*\\) *{$")
      string(APPEND body "${code}")
    elseif(coro)
      string(APPEND body "asio::awaitable<void> example([@LB@maybe_unused@RB@] asio::any_io_executor ex) {\n${code}  co_return@SEMI@\n}\n")
    else()
      string(APPEND body "void example() {\n${code}}\n")
    endif()
    string(APPEND body "}  // namespace ${PREFIX}_example_${n}\n")
    if(coro)
      string(APPEND body "#endif\n")
    endif()
    continue()
  endif()
  if(line MATCHES "^#include ")
    string(APPEND includes "${line}\n")
    continue()
  endif()
  if(first_code STREQUAL "" AND NOT line MATCHES "^ *(//.*)?$" AND NOT line MATCHES "^using ")
    set(first_code "${line}")
  endif()
  if(line MATCHES "co_await")
    set(coro TRUE)
  endif()
  string(APPEND code "${line}\n")
endforeach()
if(in_block)
  message(FATAL_ERROR "${MARKDOWN}: a ```cpp block is not closed")
endif()
if(n EQUAL 0 AND NOT ALLOW_EMPTY)
  message(FATAL_ERROR "${MARKDOWN}: no ```cpp block found")
endif()

set(out "// Generated from ${MARKDOWN_NAME} by tests/readme/extract_examples.cmake: do not edit.
// ${n} blocks.
#include <bounded_subprocess/bounded_subprocess.hpp>

#include <asio.hpp>
#ifdef ASIO_HAS_CO_AWAIT
#include <asio/experimental/awaitable_operators.hpp>
#endif

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

${includes}
using namespace bounded_subprocess@SEMI@
using namespace std::chrono_literals@SEMI@
${body}")
string(REPLACE "@SEMI@" ";" out "${out}")
string(REPLACE "@LB@" "[" out "${out}")
string(REPLACE "@RB@" "]" out "${out}")
string(REPLACE "@BS@" "\\" out "${out}")
# Rewrite only on change, so that an edit of the prose rebuilds nothing.
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
  if(old STREQUAL out)
    return()
  endif()
endif()
file(WRITE "${OUTPUT}" "${out}")
