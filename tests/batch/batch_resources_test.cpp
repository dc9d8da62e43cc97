// `bounded-run batch` short of its own resources: a job whose start fails
// for lack of fds (EMFILE under a hard open-file limit far below
// --parallel) waits for a running job to end and starts then, so every job
// runs; a job that cannot start even alone is written as resumable
// ("resumable": true, exit 75) and --resume runs it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch_test_support.hpp"

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;
using namespace std::chrono_literals;

using batch_test::kSanitized;

// UBSan checks a vptr by writing the memory to a pipe; in a process out of
// fds that fails and it reports a false "invalid vptr" (and halts).
constexpr const char* kNoFdsUnderSanitizers = "a sanitizer needs fds of its own to check the process";

std::vector<json> quick_jobs(int n) {
  std::vector<json> jobs;
  for (int i = 0; i < n; ++i) {
    std::string id = "job-";
    id += std::to_string(i);
    jobs.push_back(job(id, {misbehave(), "exit", "0"}, {{"timeout", 120}}));
  }
  return jobs;
}

TEST(BatchResources, JobsThatLackFdsWaitForRunningOnesAndAllRun) {
  if (kSanitized) GTEST_SKIP() << kNoFdsUnderSanitizers;
  bs_test::NoLeaks leaks;
  constexpr int kJobs = 500;
  batch_test::Workspace ws;
  ws.write_jobs(quick_jobs(kJobs));
  const std::string out = ws.path("out.jsonl");
  cli_test::ChildSetup setup;
  setup.nofile = 256;  // a few dozen jobs at once at most
  auto r = batch_test::run_batch({ws.jobs(), "--parallel", "500", "--output", out, "--progress", "none"},
                                 setup, 240s);
  EXPECT_EQ(r.status, 0) << r.err;
  auto results = batch_test::by_id(batch_test::read_results(out));
  EXPECT_EQ(results.size(), static_cast<std::size_t>(kJobs));
  int exited_zero = 0;
  for (const auto& [id, line] : results) {
    if (line.value("reason", "") == "exited" && line.value("exit_code", -1) == 0) {
      ++exited_zero;
    } else {
      ADD_FAILURE() << id << ": " << line.dump().substr(0, 300);
    }
  }
  EXPECT_EQ(exited_zero, kJobs);
  // The summary says that starts waited, and that every job started.
  EXPECT_NE(r.err.find("lack of resources (Too many open files)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("every job started"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(kJobs) + " exited 0"), std::string::npos) << r.err;
  leaks.expect_clean();
}

TEST(BatchResources, AJobThatCannotStartEvenAloneIsLeftToResume) {
  if (kSanitized) GTEST_SKIP() << kNoFdsUnderSanitizers;
  bs_test::NoLeaks leaks;
  constexpr int kJobs = 5;
  batch_test::Workspace ws;
  ws.write_jobs(quick_jobs(kJobs));
  const std::string out = ws.path("out.jsonl");
  cli_test::ChildSetup setup;
  setup.nofile = 16;  // bounded-run itself fits; not one job's pipes and pidfd
  auto r = batch_test::run_batch({ws.jobs(), "--parallel", "5", "--output", out, "--progress", "none"}, setup,
                                 120s);
  EXPECT_EQ(r.status, 75) << r.err;
  auto first = batch_test::by_id(batch_test::read_results(out));
  ASSERT_EQ(first.size(), static_cast<std::size_t>(kJobs)) << r.err;
  for (const auto& [id, line] : first) {
    EXPECT_EQ(line.value("reason", ""), "error") << id;
    EXPECT_EQ(line.value("resumable", false), true) << id << ": " << line.dump();
    EXPECT_NE(line.value("error", "").find("Too many open files"), std::string::npos) << line.dump();
  }
  EXPECT_NE(r.err.find("--resume runs them again"), std::string::npos) << r.err;
  // batch-merge counts such lines as not finished.
  {
    cli_test::Spawned merge({"batch-merge", "--output", ws.path("merged.jsonl"), out}, {});
    EXPECT_EQ(merge.wait(60s), 1) << merge.err();
    EXPECT_NE(merge.err().find(std::to_string(kJobs) + " not started for lack of resources"),
              std::string::npos)
        << merge.err();
  }

  // With room, --resume runs every one of them, and each id has one line.
  auto again =
      batch_test::run_batch({ws.jobs(), "--output", out, "--resume", "--progress", "none"}, {}, 120s);
  EXPECT_EQ(again.status, 0) << again.err;
  auto second = batch_test::by_id(batch_test::read_results(out));
  ASSERT_EQ(second.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, line] : second) {
    EXPECT_EQ(line.value("reason", ""), "exited") << id << ": " << line.dump();
    EXPECT_EQ(line.value("exit_code", -1), 0) << id;
  }
  EXPECT_NE(again.err.find(std::to_string(kJobs) + " lines of jobs that lacked resources dropped"),
            std::string::npos)
      << again.err;
  leaks.expect_clean();
}

}  // namespace
