// bounded-run against hostile hosts and inputs (issue 9): signals sent to
// bounded-run itself, a parent that ignores SIGCHLD, a result that cannot be
// written, stdin files that never end or never start, numbers that are not
// plain decimal.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli_process.hpp"
#include "cli_test_support.hpp"

extern char** environ;

namespace {

using bs_test::misbehave;
using cli_test::ChildSetup;
using cli_test::Spawned;

// A run whose direct child (a shell) and grandchild (a sleep) stay until
// killed; the shell prints "started", then writes "PGID GRANDCHILD" to
// `ready` once both exist.
std::vector<std::string> lingering_run(const std::string& ready, bool json) {
  std::vector<std::string> args;
  if (json) args.push_back("--json");
  args.insert(args.end(), {"--timeout", "120", "--", "/bin/sh", "-c",
                           "sleep 300 & echo started; echo \"$$ $!\" > " + ready + ".tmp && mv " + ready +
                               ".tmp " + ready + "; wait"});
  return args;
}

std::pair<pid_t, pid_t> read_ids(const std::string& ready) {
  std::ifstream f(ready);
  pid_t pgid = -1, grandchild = -1;
  f >> pgid >> grandchild;
  return {pgid, grandchild};
}

class CliStopSignal : public ::testing::TestWithParam<int> {};

TEST_P(CliStopSignal, KillsTheRunReportsCancelledAndExits128PlusN) {
  const int sig = GetParam();
  for (bool json : {true, false}) {
    SCOPED_TRACE(json ? "--json" : "plain");
    bs_test::NoLeaks leaks;
    cli_test::TempFile scratch("");
    const std::string ready = scratch.dir() + "/ready";
    Spawned br(lingering_run(ready, json), {});
    ASSERT_TRUE(cli_test::wait_for_file(ready)) << "the run never started; stderr: " << br.err();
    const auto [pgid, grandchild] = read_ids(ready);
    ASSERT_EQ(::kill(br.pid(), sig), 0);
    const int status = br.wait(std::chrono::seconds(30));
    EXPECT_EQ(status, 128 + sig) << "stderr: " << br.err();
    if (json) {
      auto j = nlohmann::json::parse(br.out(), nullptr, false);
      ASSERT_TRUE(j.is_object()) << br.out();
      EXPECT_EQ(j.value("reason", ""), "cancelled");
      EXPECT_EQ(j.value("cancel_signal", 0), sig);
      EXPECT_EQ(j.value("exit_code", 0), -1);
      EXPECT_EQ(j.value("stdout", ""), "started\n");  // the output read so far is kept
    } else {
      EXPECT_EQ(br.out(), "started\n");
    }
    // Everything the run contained is gone: the shell and its grandchild.
    leaks.expect_clean({pgid}, {grandchild});
  }
}

INSTANTIATE_TEST_SUITE_P(Signals, CliStopSignal, ::testing::Values(SIGTERM, SIGINT, SIGHUP, SIGQUIT),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return std::string(sigabbrev_np(p.param));
                         });

TEST(CliStopSignals, ASignalIgnoredByTheParentStaysIgnored) {
  // `nohup bounded-run ...`: SIGHUP was ignored before exec and must stay so.
  bs_test::NoLeaks leaks;
  cli_test::TempFile scratch("");
  const std::string ready = scratch.dir() + "/ready";
  Spawned br({"--json", "--", "/bin/sh", "-c", "echo x > " + ready + "; sleep 1; exit 7"},
             {.ignored_signals = {SIGHUP}});
  ASSERT_TRUE(cli_test::wait_for_file(ready));
  ASSERT_TRUE(cli_test::wait_until_catches(br.pid(), SIGTERM));  // handlers are in place
  EXPECT_FALSE(cli_test::catches_signal(br.pid(), SIGHUP));
  ::kill(br.pid(), SIGHUP);
  EXPECT_EQ(br.wait(), 0);
  auto j = nlohmann::json::parse(br.out(), nullptr, false);
  EXPECT_EQ(j.value("reason", ""), "exited") << br.out();
  EXPECT_EQ(j.value("exit_code", 0), 7);
  leaks.expect_clean();
}

TEST(CliStopSignals, SignalWhileWaitingForAStdinFifoCancels) {
  bs_test::NoLeaks leaks;
  cli_test::TempFile scratch("");
  const std::string fifo = scratch.dir() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Spawned br({"--json", "--timeout", "120", "--stdin-file", fifo, "--", "cat"}, {});
  ASSERT_TRUE(cli_test::wait_until_catches(br.pid(), SIGTERM)) << br.err();
  ::kill(br.pid(), SIGTERM);
  EXPECT_EQ(br.wait(std::chrono::seconds(30)), 128 + SIGTERM) << br.err();
  auto j = nlohmann::json::parse(br.out(), nullptr, false);
  EXPECT_EQ(j.value("reason", ""), "cancelled") << br.out();
  EXPECT_EQ(j.value("cancel_signal", 0), SIGTERM);
  leaks.expect_clean();
}

TEST(CliSigchld, AParentIgnoringSigchldStillGetsTrueStatuses) {
  // SIG_IGN for SIGCHLD survives exec; with it the kernel reaps the children
  // itself and their status is lost unless bounded-run resets it.
  const ChildSetup ignoring{.ignored_signals = {SIGCHLD}};
  struct Case {
    std::vector<std::string> program;
    int plain;
    int json_exit_code;
  };
  const std::vector<Case> cases = {
      {{misbehave(), "exit", "0"}, 0, 0},
      {{misbehave(), "exit", "3"}, 3, 3},
      {{misbehave(), "kill-self", "9"}, 137, -9},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.program.back());
    bs_test::NoLeaks leaks;
    std::vector<std::string> plain_args{"--"};
    plain_args.insert(plain_args.end(), c.program.begin(), c.program.end());
    Spawned plain(plain_args, ignoring);
    EXPECT_EQ(plain.wait(), c.plain) << plain.err();
    std::vector<std::string> json_args{"--json", "--"};
    json_args.insert(json_args.end(), c.program.begin(), c.program.end());
    Spawned json(json_args, ignoring);
    EXPECT_EQ(json.wait(), 0) << json.err();
    auto j = nlohmann::json::parse(json.out(), nullptr, false);
    EXPECT_EQ(j.value("exit_code", 12345), c.json_exit_code) << json.out();
    leaks.expect_clean();
  }
}

TEST(CliWriteErrors, AResultThatCannotBeWrittenIsAnError) {
  bs_test::NoLeaks leaks;
  const ChildSetup full{.stdout_path = std::string("/dev/full")};
  Spawned json({"--json", "--", misbehave(), "exit", "0"}, full);
  EXPECT_EQ(json.wait(), 125);
  EXPECT_NE(json.err().find("bounded-run: cannot write the result: No space left on device"),
            std::string::npos)
      << json.err();
  Spawned plain({"--", misbehave(), "out-err", "some output", ""}, full);
  EXPECT_EQ(plain.wait(), 125);
  EXPECT_NE(plain.err().find("cannot write the output"), std::string::npos) << plain.err();
  // Nothing to write: nothing fails, the program's status passes through.
  Spawned quiet({"--", misbehave(), "exit", "4"}, full);
  EXPECT_EQ(quiet.wait(), 4) << quiet.err();
  leaks.expect_clean();
}

TEST(CliStdinFile, AnEndlessDeviceIsCappedWithBoundedMemory) {
  bs_test::NoLeaks leaks;
  Spawned br({"--json", "--stdin-file", "/dev/zero", "--", misbehave(), "read-stdin-count"}, {});
  EXPECT_EQ(br.wait(), 125);
  EXPECT_NE(br.err().find("more than 64 MiB"), std::string::npos) << br.err();
  EXPECT_EQ(br.out(), "");
  EXPECT_LT(br.max_rss_kb(), 400 * 1024) << "bounded-run grew to " << br.max_rss_kb() << " KiB";
  leaks.expect_clean();
}

TEST(CliStdinFile, AnEndlessPipeOnStdinIsCappedWithBoundedMemory) {
  bs_test::NoLeaks leaks;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  // The producer: the helper flooding its stdout, which is the pipe.
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  const std::string helper = misbehave();
  char* pargs[] = {const_cast<char*>(helper.c_str()), const_cast<char*>("flood-out"),
                   const_cast<char*>("forever"), nullptr};
  pid_t producer = -1;
  ASSERT_EQ(posix_spawn(&producer, helper.c_str(), &fa, nullptr, pargs, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(p[1]);
  {
    Spawned br({"--stdin-file", "-", "--", misbehave(), "read-stdin-count"}, {.stdin_fd = p[0]});
    ::close(p[0]);
    EXPECT_EQ(br.wait(), 125);
    EXPECT_NE(br.err().find("more than 64 MiB"), std::string::npos) << br.err();
    EXPECT_LT(br.max_rss_kb(), 400 * 1024) << "bounded-run grew to " << br.max_rss_kb() << " KiB";
  }
  ::kill(producer, SIGKILL);
  ::waitpid(producer, nullptr, 0);
  leaks.expect_clean();
}

TEST(CliStdinFile, AFifoNobodyWritesEndsAtTheDeadlineAsATimeout) {
  bs_test::NoLeaks leaks;
  cli_test::TempFile scratch("");
  const std::string fifo = scratch.dir() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Spawned json({"--json", "--timeout", "0.5", "--stdin-file", fifo, "--", "cat"}, {});
  EXPECT_EQ(json.wait(std::chrono::seconds(30)), 0) << json.err();
  auto j = nlohmann::json::parse(json.out(), nullptr, false);
  EXPECT_TRUE(j.value("timeout", false)) << json.out();
  EXPECT_EQ(j.value("reason", ""), "timeout");
  EXPECT_EQ(j.value("exit_code", 0), -1);
  EXPECT_TRUE(j.value("stdin_write_failed", false));
  EXPECT_GE(j.value("elapsed_seconds", 0.0), 0.5);
  Spawned plain({"--timeout", "0.5", "--stdin-file", fifo, "--", "cat"}, {});
  EXPECT_EQ(plain.wait(std::chrono::seconds(30)), 124) << plain.err();
  leaks.expect_clean();
}

TEST(CliStdinFile, AFifoWithAWriterIsReadToItsEnd) {
  bs_test::NoLeaks leaks;
  cli_test::TempFile scratch("");
  const std::string fifo = scratch.dir() + "/fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Spawned br({"--json", "--timeout", "60", "--stdin-file", fifo, "--", misbehave(), "echo-stdin"}, {});
  {
    // Opening for writing waits for bounded-run to open it for reading.
    std::ofstream writer(fifo, std::ios::binary);
    writer << "first ";
    writer.flush();
    writer << "second";
  }
  EXPECT_EQ(br.wait(), 0) << br.err();
  auto j = nlohmann::json::parse(br.out(), nullptr, false);
  EXPECT_EQ(j.value("stdout", ""), "first second") << br.out();
  EXPECT_EQ(j.value("exit_code", -1), 0);
  leaks.expect_clean();
}

}  // namespace
