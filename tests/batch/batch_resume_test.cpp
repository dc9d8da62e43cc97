// `bounded-run batch` interrupted: results written as each job ends, running
// jobs cancelled and written as such on SIGINT/SIGTERM, nothing left
// running, and --resume finishing the batch with every id exactly once.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "batch_test_support.hpp"

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;

// Jobs that each append their id to `log` when they start, then live
// `ms` milliseconds (and fork a grandchild that would outlive them if the
// batch did not kill their group).
std::vector<json> logged_jobs(int n, const std::string& log, int ms) {
  std::vector<json> jobs;
  for (int i = 0; i < n; ++i) {
    const std::string id = "job" + std::to_string(i);
    jobs.push_back(job(id, {"/bin/sh", "-c",
                            "echo " + id + " >> " + log + "; sleep 300 & sleep " +
                                std::to_string(ms / 1000.0) + "; echo done"}));
  }
  return jobs;
}

std::map<std::string, int> starts_in(const std::string& log) {
  std::map<std::string, int> starts;
  std::ifstream f(log);
  for (std::string id; std::getline(f, id);) ++starts[id];
  return starts;
}

TEST(BatchResume, ResultsAreWrittenAsJobsEndAndASignalCancelsTheRest) {
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sigabbrev_np(sig));
    bs_test::NoLeaks leaks;
    batch_test::Workspace ws;
    const std::string out = ws.path("out.jsonl");
    ws.write_jobs({job("quick", {misbehave(), "exit", "0"}),
                   job("slow", {"/bin/sh", "-c", "sleep 300 & exec " + misbehave() + " ignore-sigterm-sleep"},
                       {{"timeout", 120}}),
                   job("slower", {"/bin/sh", "-c", "sleep 300 & exec sleep 300"}, {{"timeout", 120}}),
                   job("never-started", {misbehave(), "exit", "0"})});
    cli_test::Spawned br({"batch", ws.jobs(), "--parallel", "2", "--output", out, "--quiet"}, {});
    // The quick job's line is on disk while the others still run (the
    // last one waits for a free slot).
    ASSERT_TRUE(batch_test::wait_for_lines(out, 1)) << br.err();
    ASSERT_TRUE(cli_test::wait_until_catches(br.pid(), sig));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the slow ones fork
    EXPECT_EQ(batch_test::by_id(batch_test::read_results(out)).count("quick"), 1u);
    ::kill(br.pid(), sig);
    EXPECT_EQ(br.wait(std::chrono::seconds(60)), 128 + sig) << br.err();
    auto r = batch_test::by_id(batch_test::read_results(out));
    EXPECT_EQ(r["quick"]["reason"], "exited");
    for (const char* id : {"slow", "slower"}) {
      EXPECT_EQ(r[id]["reason"], "cancelled") << r[id];
      EXPECT_EQ(r[id]["cancel_signal"], sig);
      EXPECT_EQ(r[id]["exit_code"], -1);
    }
    EXPECT_EQ(r.count("never-started"), 0u);  // --resume runs it
    leaks.expect_clean();                     // as a subreaper: no job and no grandchild left
  }
}

TEST(BatchResume, ResumeAfterASigtermHalfwayRunsEachJobOnce) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string out = ws.path("out.jsonl");
  const std::string log = ws.path("starts.log");
  constexpr int kJobs = 40;
  ws.write_jobs(logged_jobs(kJobs, log, 150));
  cli_test::Spawned first({"batch", ws.jobs(), "--parallel", "4", "--output", out, "--quiet"}, {});
  ASSERT_TRUE(batch_test::wait_for_lines(out, 10)) << first.err();
  ::kill(first.pid(), SIGTERM);
  EXPECT_EQ(first.wait(), 128 + SIGTERM) << first.err();
  const auto before = batch_test::by_id(batch_test::read_results(out));
  std::size_t cancelled = 0;
  for (const auto& [id, r] : before) cancelled += r["reason"] == "cancelled";
  EXPECT_LT(before.size(), static_cast<std::size_t>(kJobs)) << "the batch was not stopped halfway";
  leaks.expect_clean();

  auto second = batch_test::run_batch({ws.jobs(), "--parallel", "4", "--output", out, "--resume"});
  EXPECT_EQ(second.status, 0) << second.err;
  const auto after = batch_test::by_id(batch_test::read_results(out));  // fails on an id twice
  ASSERT_EQ(after.size(), static_cast<std::size_t>(kJobs));
  for (const auto& [id, r] : after) EXPECT_EQ(r["reason"], "exited") << id << ": " << r;
  if (cancelled > 0) {
    EXPECT_NE(second.err.find("cancelled results dropped"), std::string::npos) << second.err;
  }
  EXPECT_NE(second.err.find("already done (--resume)"), std::string::npos) << second.err;
  // A job finished in the first run never ran again.
  const auto starts = starts_in(log);
  for (const auto& [id, r] : before) {
    if (r["reason"] != "cancelled") {
      EXPECT_EQ(starts.at(id), 1) << id;
    }
  }
  // A third run has nothing to do.
  auto third = batch_test::run_batch({ws.jobs(), "--output", out, "--resume", "--quiet"});
  EXPECT_EQ(third.status, 0) << third.err;
  EXPECT_EQ(batch_test::count_lines(out), static_cast<std::size_t>(kJobs));
  EXPECT_EQ(starts_in(log), starts);
  leaks.expect_clean();
}

TEST(BatchResume, ACutOffLastLineIsDroppedAndItsJobRunsAgain) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string out = ws.path("out.jsonl");
  ws.write_jobs({job("a", {misbehave(), "exit", "0"}), job("b", {misbehave(), "exit", "1"})});
  {
    // A whole result of "a" (as the batch writes it: a run's fields and its
    // id), then the cut-off start of one of "b".
    auto a = json::parse(cli_test::bounded_run({"--json", "--", misbehave(), "exit", "0"}).out);
    a["id"] = "a";
    std::ofstream f(out, std::ios::binary);
    f << a.dump() << "\n"
      << R"({"id":"b","exit_co)";
  }
  auto run = batch_test::run_batch({ws.jobs(), "--output", out, "--resume"});
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_NE(run.err.find("cut-off last line dropped"), std::string::npos) << run.err;
  auto r = batch_test::by_id(batch_test::read_results(out));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r["b"]["exit_code"], 1);
  // An output that is not a batch's is refused, not appended to.
  {
    std::ofstream f(out, std::ios::binary | std::ios::app);
    f << "garbage\n";
  }
  auto refused = batch_test::run_batch({ws.jobs(), "--output", out, "--resume"});
  EXPECT_EQ(refused.status, 125);
  EXPECT_NE(refused.err.find("not a result line"), std::string::npos) << refused.err;
  leaks.expect_clean();
}

TEST(BatchResume, AResultThatCannotBeWrittenStopsTheBatchCleanly) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  // The quick job's line cannot be written (/dev/full): the batch stops,
  // the jobs still running are killed (not waited for: they would sleep
  // 300 s), and it exits 125 saying why.
  ws.write_jobs({job("quick", {misbehave(), "exit", "0"}),
                 job("s1", {"/bin/sh", "-c", "sleep 300 & exec sleep 300"}),
                 job("s2", {misbehave(), "sleep-forever"}), job("later", {misbehave(), "exit", "0"})});
  cli_test::Spawned br({"batch", ws.jobs(), "--parallel", "3", "--quiet"},
                       {.stdout_path = std::string("/dev/full")});
  EXPECT_EQ(br.wait(std::chrono::seconds(60)), 125);
  EXPECT_NE(br.err().find("bounded-run: cannot write a result to stdout: No space left on device"),
            std::string::npos)
      << br.err();
  leaks.expect_clean();
}

TEST(BatchResume, ErrorResultsOfBadLinesCountAsDone) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string out = ws.path("out.jsonl");
  ws.write_jobs({"not json", job("dup", {"true"}), job("dup", {"true"}), job("ok", {"true"})});
  auto first = batch_test::run_batch({ws.jobs(), "--output", out, "--quiet"});
  EXPECT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(batch_test::count_lines(out), 4u);
  auto again = batch_test::run_batch({ws.jobs(), "--output", out, "--resume", "--quiet"});
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(batch_test::count_lines(out), 4u);
  batch_test::by_id(batch_test::read_results(out));  // no id twice
  leaks.expect_clean();
}

}  // namespace
