// bounded-run's options reach the run: program arguments, stdin, env, cwd.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "cli_test_support.hpp"

namespace {

using bs_test::misbehave;
using cli_test::bounded_run;
namespace bs = bounded_subprocess;

TEST(CliOptions, WordsAfterTheProgramBelongToIt) {
  bs_test::NoLeaks leaks;
  // No `--`: the program starts at the first word that is not an option.
  auto inv = bounded_run({"--timeout", "5", misbehave(), "print-args", "--json", "-x", "--timeout", "--"});
  EXPECT_EQ(inv.status, 0) << inv.err;
  EXPECT_EQ(inv.out, "--json\n-x\n--timeout\n--\n");
  // With `--`, the program may look like an option's value or an option.
  auto dashed = bounded_run({"--json", "--", misbehave(), "print-args", "--max-output", "1"});
  auto j = cli_test::parse_json(dashed);
  EXPECT_EQ(j.value("stdout", ""), "--max-output\n1\n");
  leaks.expect_clean();
}

TEST(CliOptions, OptionWithEmptyValueAfterEqualsDoesNotTakeTheProgram) {
  bs_test::NoLeaks leaks;
  // `--stdin-data=` is empty stdin data, not "take the next word".
  auto inv = bounded_run({"--stdin-data=", misbehave(), "read-stdin-count"});
  EXPECT_EQ(inv.status, 0) << inv.err;
  EXPECT_EQ(inv.out, "0\n");
  auto eq = bounded_run({"--stdin-data=abc", misbehave(), "read-stdin-count"});
  EXPECT_EQ(eq.out, "3\n");
  leaks.expect_clean();
}

TEST(CliOptions, StdinData) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--stdin-data", "line one\nline two\n", misbehave(), "echo-stdin"});
  EXPECT_EQ(inv.status, 0);
  EXPECT_EQ(inv.out, "line one\nline two\n");
  // Without stdin options the child's stdin is /dev/null: EOF at once.
  auto none = bounded_run({misbehave(), "read-stdin-count"});
  EXPECT_EQ(none.out, "0\n");
  leaks.expect_clean();
}

TEST(CliOptions, StdinFilePathIsPassedByteForByte) {
  bs_test::NoLeaks leaks;
  std::string bytes;
  for (int i = 0; i < 3000; ++i) bytes.push_back(static_cast<char>(i % 256));  // NULs included
  cli_test::TempFile file(bytes);
  auto inv = bounded_run({"--max-output", "10000", "--stdin-file", file.path(), misbehave(), "echo-stdin"});
  EXPECT_EQ(inv.status, 0);
  EXPECT_EQ(inv.out, bytes);
  leaks.expect_clean();
}

TEST(CliOptions, StdinFileDashReadsOwnStdin) {
  bs_test::NoLeaks leaks;
  bs::Options outer;
  outer.stdin_data = std::string("from bounded-run's stdin\n");
  auto inv = bounded_run({"--stdin-file", "-", misbehave(), "echo-stdin"}, outer);
  EXPECT_EQ(inv.status, 0) << inv.err;
  EXPECT_EQ(inv.out, "from bounded-run's stdin\n");
  leaks.expect_clean();
}

TEST(CliOptions, ChildGetsOnlyStdFdsEvenWithAStdinFile) {
  bs_test::NoLeaks leaks;
  cli_test::TempFile file("data");
  auto inv = bounded_run({"--stdin-file", file.path(), misbehave(), "count-fds"});
  EXPECT_EQ(inv.status, 0);
  EXPECT_EQ(inv.out, "3\n0 1 2 \n");
  leaks.expect_clean();
}

TEST(CliOptions, EnvAddsAndOverridesTheInheritedEnvironment) {
  bs_test::NoLeaks leaks;
  bs::Options outer;
  outer.env = bs::inherited_env();
  (*outer.env)["BS_CLI_OUTER"] = "outer";
  auto inherited = bounded_run({misbehave(), "print-env", "BS_CLI_OUTER"}, outer);
  EXPECT_EQ(inherited.out, "outer\n");
  auto overridden =
      bounded_run({"--env", "BS_CLI_OUTER=inner", misbehave(), "print-env", "BS_CLI_OUTER"}, outer);
  EXPECT_EQ(overridden.out, "inner\n");
  auto added = bounded_run(
      {"--env", "BS_CLI_A=1", "--env", "BS_CLI_B=x=y", misbehave(), "print-env", "BS_CLI_B"}, outer);
  EXPECT_EQ(added.out, "x=y\n");  // split at the first '='
  auto empty = bounded_run({"--env", "BS_CLI_E=", misbehave(), "print-env", "BS_CLI_E"}, outer);
  EXPECT_EQ(empty.status, 0);
  EXPECT_EQ(empty.out, "\n");
  // Repeated: the last one wins.
  auto twice =
      bounded_run({"--env", "BS_CLI_T=1", "--env", "BS_CLI_T=2", misbehave(), "print-env", "BS_CLI_T"});
  EXPECT_EQ(twice.out, "2\n");
  leaks.expect_clean();
}

TEST(CliOptions, ClearEnvStartsEmpty) {
  bs_test::NoLeaks leaks;
  auto count = bounded_run({"--clear-env", misbehave(), "print-env-count"});
  EXPECT_EQ(count.status, 0) << count.err;
  EXPECT_EQ(count.out, "0\n");
  auto one = bounded_run({"--clear-env", "--env", "ONLY=1", misbehave(), "print-env-count"});
  EXPECT_EQ(one.out, "1\n");
  auto home = bounded_run({"--clear-env", misbehave(), "print-env", "HOME"});
  EXPECT_EQ(home.status, 3);  // the helper exits 3 when the variable is unset
  auto baseline = bounded_run({misbehave(), "print-env-count"});
  EXPECT_NE(baseline.out, "0\n");  // the host does have an environment to clear
  leaks.expect_clean();
}

TEST(CliOptions, Cwd) {
  bs_test::NoLeaks leaks;
  cli_test::TempFile file("");
  auto inv = bounded_run({"--cwd", file.dir(), misbehave(), "print-cwd"});
  EXPECT_EQ(inv.status, 0);
  EXPECT_EQ(inv.out, std::filesystem::canonical(file.dir()).string() + "\n");
  leaks.expect_clean();
}

TEST(CliOptions, HelpAndVersionExitZero) {
  bs_test::NoLeaks leaks;
  auto help = bounded_run({"--help"});
  EXPECT_EQ(help.status, 0);
  auto batch_help = bounded_run({"batch", "--help"});
  EXPECT_EQ(batch_help.status, 0);
  // Every run option, in both command lines' help, each on a line of its own.
  for (const char* opt : {"--timeout",
                          "--max-output",
                          "--tail",
                          "--stdin-data",
                          "--stdin-file",
                          "--stdin-timeout",
                          "--memory-limit-mb",
                          "--memory-interval",
                          "--cwd",
                          "--env",
                          "--clear-env",
                          "--podman",
                          "--volume",
                          "--entrypoint",
                          "--podman-arg",
                          "--containment",
                          "--min-containment",
                          "--network",
                          "--read-only",
                          "--scratch-mb",
                          "--pids-limit",
                          "--cpu-limit",
                          "--file-size-limit-mb"}) {
    EXPECT_NE(help.out.find(std::string("\n  ") + opt + " "), std::string::npos) << opt;
    EXPECT_NE(batch_help.out.find(std::string("\n  ") + opt + " "), std::string::npos) << opt;
  }
  EXPECT_NE(help.out.find("\n  --json "), std::string::npos);
  EXPECT_NE(batch_help.out.find("\n  -o,--output FILE "), std::string::npos) << batch_help.out;
  EXPECT_EQ(help.err, "");
  EXPECT_EQ(batch_help.err, "");
  auto version = bounded_run({"--version"});
  EXPECT_EQ(version.status, 0);
  EXPECT_EQ(version.out.rfind("bounded-run ", 0), 0u) << version.out;
  EXPECT_EQ(version.out.back(), '\n');
  leaks.expect_clean();
}

TEST(CliOptions, AnOptionsValueIsTheNextWordWhateverItIs) {
  bs_test::NoLeaks leaks;
  // Words that look like options are values after a value option, and the
  // program's own after its name; '=' attaches a value, an empty one too.
  auto dashes = bounded_run({"--stdin-data", "--json", misbehave(), "echo-stdin", "--timeout"});
  EXPECT_EQ(dashes.status, 0) << dashes.err;
  EXPECT_EQ(dashes.out, "--json");
  auto attached = bounded_run({"--stdin-data=a=b", "--max-output=2", misbehave(), "echo-stdin"});
  EXPECT_EQ(attached.status, 0) << attached.err;
  EXPECT_EQ(attached.out, "a=");
  auto empty = bounded_run({"--stdin-data=", misbehave(), "echo-stdin"});
  EXPECT_EQ(empty.status, 0) << empty.err;
  EXPECT_EQ(empty.out, "");
  auto negative = bounded_run({"--env", "-X=1", "--", misbehave(), "print-env", "-X"});
  EXPECT_EQ(negative.status, 0) << negative.err;
  EXPECT_EQ(negative.out, "1\n");
  leaks.expect_clean();
}

TEST(CliOptions, FractionalTimeoutsAreHonoured) {
  bs_test::NoLeaks leaks;
  auto inv = bounded_run({"--json", "--timeout", "0.25", misbehave(), "sleep-forever"});
  auto j = cli_test::parse_json(inv);
  EXPECT_TRUE(j.value("timeout", false));
  EXPECT_GE(j.value("elapsed_seconds", 0.0), 0.2);
  EXPECT_LT(j.value("elapsed_seconds", 99.0), 5.0);
  leaks.expect_clean();
}

TEST(CliOptions, PlainDecimalSecondsInEveryForm) {
  bs_test::NoLeaks leaks;
  for (const char* seconds : {"2", "2.5", ".5", "5.", "007", "0.25"}) {
    for (const char* option : {"--timeout", "--stdin-timeout", "--memory-interval"}) {
      auto inv = bounded_run({option, seconds, misbehave(), "exit", "0"});
      EXPECT_EQ(inv.status, 0) << option << " " << seconds << ": " << inv.err;
    }
  }
  leaks.expect_clean();
}

TEST(CliOptions, StdinTimeoutBoundsTheWrite) {
  bs_test::NoLeaks leaks;
  // The child reads nothing for 1 s, then reads all of its stdin. With a
  // 0.3 s stdin timeout the write gives up first (stdin is closed, the
  // result says so); with the default (15 s) all of the 1 MiB gets through.
  cli_test::TempFile big(std::string(1 << 20, 'x'));
  const std::vector<std::string> child{"/bin/sh", "-c", "sleep 1; cat > /dev/null; echo done"};
  std::vector<std::string> bounded{"--json", "--stdin-timeout", "0.3", "--stdin-file", big.path(), "--"};
  bounded.insert(bounded.end(), child.begin(), child.end());
  auto cut = cli_test::parse_json(bounded_run(bounded));
  EXPECT_TRUE(cut.value("stdin_write_failed", false)) << cut;
  EXPECT_EQ(cut.value("exit_code", 0), -1);
  EXPECT_EQ(cut.value("stdout", ""), "done\n");
  std::vector<std::string> patient{"--json", "--stdin-file", big.path(), "--"};
  patient.insert(patient.end(), child.begin(), child.end());
  auto full = cli_test::parse_json(bounded_run(patient));
  EXPECT_FALSE(full.value("stdin_write_failed", true)) << full;
  EXPECT_EQ(full.value("exit_code", -1), 0);
  leaks.expect_clean();
}

}  // namespace
