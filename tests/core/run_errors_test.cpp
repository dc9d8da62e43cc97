// Core tests of run(): bad input is std::invalid_argument before anything is
// spawned; a program that cannot start is std::system_error naming it. No
// error path leaks an fd, a process or a zombie.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;

namespace {

int count_my_children() {
  int n = 0;
  for (const auto& st : bs_test::all_processes()) {
    if (st.ppid == ::getpid()) ++n;
  }
  return n;
}

// Runs `argv` with `options`, expects std::invalid_argument, and checks that
// nothing was spawned and nothing leaked.
void expect_invalid(const std::vector<std::string>& argv, const bs::Options& options, const char* what) {
  SCOPED_TRACE(what);
  bs_test::NoLeaks leaks;
  int children = count_my_children();
  EXPECT_THROW(bs::run(argv, options), std::invalid_argument);
  try {
    bs::run(argv, options);
  } catch (const std::invalid_argument& e) {
    EXPECT_GT(std::string(e.what()).size(), 5u) << "the message must say what is wrong";
  } catch (...) {
  }
  EXPECT_EQ(count_my_children(), children) << "something was spawned";
  leaks.expect_clean();
}

TEST(RunErrors, InvalidArgumentsSpawnNothing) {
  const std::string m = misbehave();
  expect_invalid({}, {}, "empty argv");
  expect_invalid({std::string("exi\0t", 5)}, {}, "NUL in argv[0]");
  expect_invalid({m, std::string("a\0b", 3)}, {}, "NUL in an argument");
  expect_invalid({m, "exit", "0"}, {.env = bs::Environment{{"", "x"}}}, "empty env name");
  expect_invalid({m, "exit", "0"}, {.env = bs::Environment{{"A=B", "x"}}}, "'=' in env name");
  expect_invalid({m, "exit", "0"}, {.env = bs::Environment{{std::string("A\0B", 3), "x"}}},
                 "NUL in env name");
  expect_invalid({m, "exit", "0"}, {.env = bs::Environment{{"A", std::string("x\0y", 3)}}},
                 "NUL in env value");
  expect_invalid({m, "exit", "0"}, {.cwd = std::string("/t\0mp", 5)}, "NUL in cwd");
  expect_invalid({m, "exit", "0"}, {.timeout = 0s}, "zero timeout");
  expect_invalid({m, "exit", "0"}, {.timeout = -1s}, "negative timeout");
  expect_invalid({m, "exit", "0"}, {.timeout = bs::Seconds(std::nan(""))}, "NaN timeout");
  expect_invalid({m, "exit", "0"}, {.memory_limit_mb = 0}, "zero memory limit");
  expect_invalid({m, "exit", "0"}, {.memory_limit_mb = 64, .memory_watchdog_interval = 0s}, "zero interval");
  expect_invalid({m, "exit", "0"}, {.memory_limit_mb = 64, .memory_watchdog_interval = -0.5s},
                 "negative interval");
  expect_invalid({m, "exit", "0"}, {.stdin_data = "x", .stdin_write_timeout = -1s}, "negative stdin timeout");
}

TEST(RunErrors, AnEnvironmentNameWithANulIsNamedWholeAndEscaped) {
  const std::string m = misbehave();
  try {
    bs::run({m, "exit", "0"}, {.env = bs::Environment{{std::string("A\0B", 3), "x"}}});
    ADD_FAILURE() << "no error";
  } catch (const std::invalid_argument& e) {
    // A raw NUL would end what() after "A".
    EXPECT_NE(std::string(e.what()).find("'A\\x00B'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
  }
}

// Expects std::system_error with `errc`, whose what() contains `needle`.
void expect_system_error(const std::vector<std::string>& argv, const bs::Options& options, int errc,
                         const std::string& needle) {
  SCOPED_TRACE(needle);
  bs_test::NoLeaks leaks;
  int children = count_my_children();
  bool thrown = false;
  try {
    bs::run(argv, options);
  } catch (const std::system_error& e) {
    thrown = true;
    EXPECT_EQ(e.code().value(), errc) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_TRUE(thrown) << "no std::system_error";
  bs::drop_warm_sandboxes();  // the library's idle sandboxes are not a run's children
  EXPECT_EQ(count_my_children(), children) << "a child was left (zombie or alive)";
  leaks.expect_clean();
}

TEST(RunErrors, ProgramNotFound) {
  expect_system_error({"/nonexistent/bs-prog"}, {}, ENOENT, "/nonexistent/bs-prog");
  expect_system_error({"bs-no-such-program-in-path"}, {}, ENOENT, "bs-no-such-program-in-path");
  // Not in the child's PATH either.
  expect_system_error({"true"}, {.env = bs::Environment{{"PATH", "/nonexistent"}}}, ENOENT, "true");
}

TEST(RunErrors, ProgramNotExecutable) {
  namespace fs = std::filesystem;
  fs::path file = fs::temp_directory_path() / ("bs_core_noexec_" + std::to_string(::getpid()));
  { std::ofstream(file) << "#!/bin/sh\necho hi\n"; }
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  expect_system_error({file.string()}, {}, EACCES, file.string());
  fs::remove(file);
  // A directory is not executable either.
  expect_system_error({"/tmp"}, {}, EACCES, "/tmp");
}

TEST(RunErrors, MissingCwd) {
  expect_system_error({misbehave(), "print-cwd"}, {.cwd = "/nonexistent/bs-dir"}, ENOENT,
                      "/nonexistent/bs-dir");
}

TEST(RunErrors, ErrorsRepeatedDoNotLeak) {
  bs_test::NoLeaks leaks;
  for (int i = 0; i < 200; ++i) {
    EXPECT_THROW(bs::run({"/nonexistent/bs-prog"}), std::system_error);
    EXPECT_THROW(bs::run({misbehave()}, {.cwd = "/nonexistent"}), std::system_error);
    EXPECT_THROW(bs::run({}), std::invalid_argument);
  }
  leaks.expect_clean();
}

}  // namespace
