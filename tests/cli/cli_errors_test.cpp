// bounded-run's own errors: exit 125 and one line on stderr, in both modes,
// and the program never runs.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_test_support.hpp"

namespace {

using bs_test::misbehave;
using cli_test::bounded_run;

struct ErrorCase {
  const char* name;
  std::vector<std::string> args;  // "PROG" is replaced by a program that would print RAN
  const char* expected_in_message;
};

std::vector<std::string> expand(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& a : args) {
    if (a == "PROG") {
      out.insert(out.end(), {misbehave(), "out-err", "RAN", "RAN"});
    } else {
      out.push_back(a);
    }
  }
  return out;
}

void expect_usage_error(const std::vector<std::string>& args, const std::string& needle) {
  for (bool json : {false, true}) {
    bs_test::NoLeaks leaks;
    std::vector<std::string> full = expand(args);
    if (json) full.insert(full.begin(), "--json");
    auto inv = bounded_run(full);
    SCOPED_TRACE(std::string(json ? "--json " : "") + "stderr: " + inv.err);
    EXPECT_EQ(inv.status, 125);
    EXPECT_EQ(inv.out, "");  // nothing ran, nothing printed
    ASSERT_FALSE(inv.err.empty());
    EXPECT_EQ(inv.err.rfind("bounded-run: ", 0), 0u);
    EXPECT_EQ(inv.err.find('\n'), inv.err.size() - 1) << "not exactly one line";
    EXPECT_NE(inv.err.find(needle), std::string::npos) << "message lacks '" << needle << "'";
    leaks.expect_clean();
  }
}

class CliErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CliErrors, Exit125WithOneLine) {
  expect_usage_error(GetParam().args, GetParam().expected_in_message);
}

const ErrorCase kCases[] = {
    {"UnknownOption", {"--bogus", "PROG"}, "--bogus"},
    {"UnknownShortOption", {"-q", "PROG"}, "-q"},
    {"ShortHelpWithMore", {"-hx", "PROG"}, "unknown option -hx"},
    {"FlagGivenAValue", {"--tail=yes", "PROG"}, "--tail takes no value"},
    {"ValueMissingAtTheEnd", {"--cwd"}, "--cwd needs a value (DIR)"},
    {"SecondValueAttached",
     {"--max-output", "1", "--max-output=2", "PROG"},
     "--max-output given more than once"},
    {"MissingProgram", {}, "missing PROGRAM"},
    {"MissingProgramAfterDashDash", {"--timeout", "1", "--"}, "missing PROGRAM"},
    {"EmptyProgram", {"--", ""}, "PROGRAM"},
    {"ProgramNotFound", {"bs-no-such-program-xyz"}, "bs-no-such-program-xyz"},
    {"ProgramPathNotFound", {"/nonexistent/bs-prog"}, "/nonexistent/bs-prog"},
    {"ProgramIsADirectory", {"/"}, "'/'"},
    {"TimeoutNegative", {"--timeout", "-1", "PROG"}, "--timeout"},
    {"TimeoutZero", {"--timeout", "0", "PROG"}, "--timeout"},
    {"TimeoutNotANumber", {"--timeout", "abc", "PROG"}, "abc"},
    {"TimeoutNaN", {"--timeout", "nan", "PROG"}, "nan"},
    {"TimeoutInfinite", {"--timeout", "inf", "PROG"}, "inf"},
    {"TimeoutHuge", {"--timeout", "1e999", "PROG"}, "1e999"},
    {"TimeoutTrailingJunk", {"--timeout", "1s", "PROG"}, "1s"},
    // Seconds are plain decimal numbers (issue 9): no hex, sign, space or exponent.
    {"TimeoutHex", {"--timeout", "0x10", "PROG"}, "0x10"},
    {"TimeoutLeadingSpace", {"--timeout", " 1", "PROG"}, "' 1'"},
    {"TimeoutTrailingSpace", {"--timeout", "1 ", "PROG"}, "'1 '"},
    {"TimeoutPlusSign", {"--timeout", "+1", "PROG"}, "+1"},
    {"TimeoutExponent", {"--timeout", "1e1", "PROG"}, "1e1"},
    {"TimeoutTwoDots", {"--timeout", "1.2.3", "PROG"}, "1.2.3"},
    {"TimeoutOnlyADot", {"--timeout", ".", "PROG"}, "--timeout"},
    {"StdinTimeoutHex", {"--stdin-timeout", "0x1", "PROG"}, "--stdin-timeout"},
    {"StdinTimeoutExponent", {"--stdin-timeout", "1e-1", "PROG"}, "--stdin-timeout"},
    {"MemoryIntervalHex", {"--memory-interval", "0x1", "PROG"}, "--memory-interval"},
    {"MemoryIntervalExponent", {"--memory-interval", "1e-9", "PROG"}, "--memory-interval"},
    {"TimeoutMissingValue", {"--timeout"}, "--timeout"},
    {"TimeoutTwice", {"--timeout", "1", "--timeout", "2", "PROG"}, "--timeout"},
    {"MaxOutputNegative", {"--max-output", "-1", "PROG"}, "--max-output"},
    {"MaxOutputFraction", {"--max-output", "1.5", "PROG"}, "1.5"},
    {"MaxOutputHex", {"--max-output", "0x10", "PROG"}, "0x10"},
    {"MaxOutputTooLarge", {"--max-output", "99999999999999999999999", "PROG"}, "too large"},
    {"StdinTimeoutBad", {"--stdin-timeout", "x", "PROG"}, "--stdin-timeout"},
    {"MemoryLimitZero", {"--memory-limit-mb", "0", "PROG"}, "--memory-limit-mb"},
    {"MemoryLimitNegative", {"--memory-limit-mb", "-5", "PROG"}, "--memory-limit-mb"},
    {"MemoryIntervalBad", {"--memory-interval", "-0.5", "PROG"}, "--memory-interval"},
    {"StdinDataAndFile", {"--stdin-data", "a", "--stdin-file", "/dev/null", "PROG"}, "--stdin-file"},
    {"StdinFileMissing", {"--stdin-file", "/nonexistent/bs-input", "PROG"}, "/nonexistent/bs-input"},
    {"StdinFileIsADirectory", {"--stdin-file", "/", "PROG"}, "Is a directory"},
    {"CwdMissing", {"--cwd", "/nonexistent/bs-dir", "PROG"}, "/nonexistent/bs-dir"},
    {"EnvWithoutEquals", {"--env", "NOEQUALS", "PROG"}, "NOEQUALS"},
    {"EnvEmptyName", {"--env", "=value", "PROG"}, "=value"},
    {"VolumeSourceMissing", {"--volume", "/nonexistent/bs-volume:/b", "PROG"}, "does not exist"},
    {"VolumeBadFormat", {"--volume", "/a", "PROG"}, "HOST:INSIDE"},
    {"NetworkBadValue", {"--network", "bridge", "PROG"}, "none or host"},
    {"ScratchZero", {"--scratch-mb", "0", "PROG"}, "--scratch-mb"},
    {"EntrypointWithoutPodman", {"--entrypoint", "", "PROG"}, "--podman"},
    {"EntrypointEqualsWithoutPodman", {"--entrypoint=", "PROG"}, "--podman"},
    {"PodmanArgWithoutPodman", {"--podman-arg", "--network=none", "PROG"}, "--podman"},
    {"ClearEnvWithPodman", {"--clear-env", "--podman", "img", "PROG"}, "--clear-env"},
    {"MemoryIntervalWithPodman", {"--memory-interval", "1", "--podman", "img", "PROG"}, "--memory-interval"},
};

std::string case_name(const ::testing::TestParamInfo<ErrorCase>& param_info) {
  return param_info.param.name;
}

INSTANTIATE_TEST_SUITE_P(All, CliErrors, ::testing::ValuesIn(kCases), case_name);

TEST(CliErrorsMore, ProgramNotExecutable) {
  cli_test::TempFile file("#!/bin/sh\necho RAN\n");
  ASSERT_EQ(::chmod(file.path().c_str(), 0644), 0);
  expect_usage_error({file.path()}, file.path());
}

TEST(CliErrorsMore, EmptyPodmanImage) {
  // The library rejects an empty image (std::invalid_argument): exit 125.
  expect_usage_error({"--podman", "", "PROG"}, "bounded-run: ");
}

}  // namespace
