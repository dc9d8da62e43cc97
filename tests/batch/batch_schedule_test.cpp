// How `bounded-run batch` schedules: --memory-budget-mb is never exceeded,
// --confirm-timeouts re-runs starved timeouts alone, progress and summary on
// stderr, and its own memory stays flat as the number of jobs grows.
#include <sched.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "batch_test_support.hpp"

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;

// The largest sum of memory limits of jobs alive at once, from the
// "TAG start NS" / "TAG end NS" lines of log-interval (TAG: the job's
// limit). Each job logs from inside its run, so the logged intervals lie
// within the batch's own view of the job: if they overlap beyond the
// budget, the batch did too. Also the most jobs alive at once.
std::pair<long, int> peak_of(const std::string& log) {
  std::vector<std::tuple<long long, int, long>> events;  // time, +1/-1 (ends first at a tie), limit
  std::ifstream f(log);
  std::string tag, what;
  long long ns = 0;
  while (f >> tag >> what >> ns) events.emplace_back(ns, what == "start" ? 1 : -1, std::stol(tag));
  std::sort(events.begin(), events.end());
  long sum = 0, peak = 0;
  int alive = 0, most = 0;
  for (const auto& [t, kind, limit] : events) {
    sum += kind * limit;
    alive += kind;
    peak = std::max(peak, sum);
    most = std::max(most, alive);
  }
  return {peak, most};
}

std::vector<json> interval_jobs(const std::string& log, bool with_limits) {
  std::vector<json> jobs;
  const long limits[] = {100, 200, 300, 0};
  for (int i = 0; i < 24; ++i) {
    const long limit = limits[i % 4];
    // Jobs without a limit count as budget / --parallel = 500 / 8 = 62.
    const std::string tag = std::to_string(limit == 0 ? 62 : limit);
    json extra = json::object();
    if (with_limits && limit > 0) extra["memory_limit_mb"] = limit;
    jobs.push_back(job(std::string("j").append(std::to_string(i)),
                       {misbehave(), "log-interval", log, "300", tag}, extra));
  }
  return jobs;
}

TEST(BatchSchedule, TheMemoryBudgetIsNeverExceeded) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string log = ws.path("intervals.log");
  auto jobs = interval_jobs(log, true);
  jobs.push_back(job("too-big", {"true"}, {{"memory_limit_mb", 600}}));
  ws.write_jobs(jobs);
  auto run = batch_test::run_batch({ws.jobs(), "--parallel", "8", "--memory-budget-mb", "500", "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto r = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(r.size(), 25u);
  EXPECT_NE(r["too-big"]["error"].get<std::string>().find("--memory-budget-mb 500"), std::string::npos);
  const auto [peak, most] = peak_of(log);
  EXPECT_LE(peak, 500) << "the running jobs' limits summed to " << peak << " MiB";
  EXPECT_GE(most, 2) << "the budget let only one job run at a time";

  // The same jobs without a budget do go over it: the measure can fail.
  batch_test::Workspace free;
  const std::string free_log = free.path("intervals.log");
  free.write_jobs(interval_jobs(free_log, true));
  auto unbounded = batch_test::run_batch({free.jobs(), "--parallel", "8", "--quiet"});
  EXPECT_EQ(unbounded.status, 0) << unbounded.err;
  EXPECT_GT(peak_of(free_log).first, 500);
  leaks.expect_clean();
}

int first_allowed_cpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) return c;
  }
  return 0;
}

TEST(BatchSchedule, ConfirmTimeoutsReRunsStarvedJobsAlone) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  // 12 jobs that each need 0.2 s of CPU, 1 s timeout, all at once on one
  // CPU: 2.4 s of CPU cannot fit in the ~1 s before the deadlines, so at
  // least 7 time out, whatever else the machine does. Alone, 0.2 s of CPU
  // fits in 1 s unless that CPU is more than 80% busy with other work.
  constexpr int kJobs = 12;
  std::vector<json> jobs;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(job("spin" + std::to_string(i), {misbehave(), "spin-cpu-ms", "200"}, {{"timeout", 1}}));
  }
  ws.write_jobs(jobs);
  auto run = batch_test::run_batch({ws.jobs(), "--parallel", std::to_string(kJobs), "--confirm-timeouts"},
                                   {.cpu = first_allowed_cpu()});
  EXPECT_EQ(run.status, 0) << run.err;
  auto r = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(r.size(), static_cast<std::size_t>(kJobs));
  int rerun = 0, passed_alone = 0;
  for (const auto& [id, res] : r) {
    if (!res.contains("first_run")) {
      EXPECT_FALSE(res.contains("timeout_confirmed")) << res;
      EXPECT_EQ(res["reason"], "exited") << id;  // only timeouts are re-run
      continue;
    }
    ++rerun;
    EXPECT_EQ(res["first_run"]["reason"], "timeout") << res;
    ASSERT_TRUE(res.contains("timeout_confirmed")) << res;
    // The verdict is the re-run's, and the flag says what it was.
    EXPECT_EQ(res["timeout_confirmed"].get<bool>(), res["reason"] == "timeout") << res;
    EXPECT_EQ(res["timeout_confirmed"].get<bool>(), res["timeout"].get<bool>()) << res;
    if (!res["timeout_confirmed"].get<bool>()) {
      ++passed_alone;
      EXPECT_EQ(res["exit_code"], 0);
    }
    // A starved run used far less CPU than its wall time: the fields say so.
    EXPECT_LT(res["first_run"]["cpu_seconds"].get<double>(),
              res["first_run"]["elapsed_seconds"].get<double>());
  }
  EXPECT_GE(rerun, 7) << "the jobs were not starved";
  EXPECT_GE(passed_alone, 1) << "no re-run alone passed";
  EXPECT_NE(run.err.find("timeouts re-run alone"), std::string::npos) << run.err;
  leaks.expect_clean();
}

TEST(BatchSchedule, SignalDuringConfirmationWritesTheRestAsCancelled) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string out = ws.path("out.jsonl");
  const std::string log = ws.path("runs.log");
  // Both time out at first (together), then are re-run alone, in turn; each
  // run logs its start. The signal comes during the first re-run.
  const std::vector<std::string> args{"/bin/sh", "-c", "echo run >> " + log + "; exec sleep 300"};
  ws.write_jobs({job("a", args, {{"timeout", 2}}), job("b", args, {{"timeout", 2}})});
  cli_test::Spawned br(
      {"batch", ws.jobs(), "--parallel", "2", "--confirm-timeouts", "--output", out, "--quiet"}, {});
  ASSERT_TRUE(batch_test::wait_for_lines(log, 3)) << br.err();
  EXPECT_EQ(batch_test::count_lines(out), 0u);  // timed-out jobs wait for their confirmation
  ::kill(br.pid(), SIGINT);
  EXPECT_EQ(br.wait(), 128 + SIGINT) << br.err();
  auto r = batch_test::by_id(batch_test::read_results(out));
  ASSERT_EQ(r.size(), 2u);
  for (const auto& [id, res] : r) {
    // The one being re-run and the one waiting for it: cancelled, the first
    // outcome kept; --resume runs them again.
    EXPECT_EQ(res["reason"], "cancelled") << res;
    EXPECT_EQ(res["cancel_signal"], SIGINT);
    EXPECT_EQ(res["first_run"]["reason"], "timeout") << res;
    EXPECT_FALSE(res.contains("timeout_confirmed"));
  }
  EXPECT_EQ(batch_test::count_lines(log), 3u);
  leaks.expect_clean();
}

TEST(BatchSchedule, ProgressLinesBarAndQuiet) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  std::vector<json> jobs;
  for (int i = 0; i < 6; ++i) jobs.push_back(job(i, {misbehave(), "exit-after-ms", "300", "0"}));
  jobs.push_back(job("bad", {misbehave(), "exit", "1"}));
  ws.write_jobs(jobs);
  auto lines = batch_test::run_batch(
      {ws.jobs(), "--parallel", "2", "--progress", "lines", "--progress-interval", "0.2"});
  EXPECT_EQ(lines.status, 0) << lines.err;
  EXPECT_NE(lines.err.find("bounded-run batch: "), std::string::npos);
  EXPECT_NE(lines.err.find("/7 "), std::string::npos) << lines.err;  // done of total
  EXPECT_NE(lines.err.find("running "), std::string::npos) << lines.err;
  EXPECT_EQ(lines.err.find('\r'), std::string::npos);
  // The summary: counts and the slowest jobs.
  EXPECT_NE(lines.err.find("7 jobs in"), std::string::npos) << lines.err;
  EXPECT_NE(lines.err.find("6 exited 0, 1 failed"), std::string::npos) << lines.err;
  EXPECT_NE(lines.err.find("slowest:"), std::string::npos) << lines.err;

  auto bar = batch_test::run_batch({ws.jobs(), "--parallel", "2", "--progress", "bar"});
  EXPECT_EQ(bar.status, 0);
  EXPECT_NE(bar.err.find("\r["), std::string::npos) << bar.err;
  EXPECT_NE(bar.err.find("\x1b[K"), std::string::npos);

  auto quiet = batch_test::run_batch({ws.jobs(), "--parallel", "2", "--quiet"});
  EXPECT_EQ(quiet.status, 0);
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(batch_test::parse_lines(quiet.out).size(), 7u);
  leaks.expect_clean();
}

using batch_test::kSanitized;

TEST(BatchSchedule, OwnMemoryStaysFlatAsJobsGrow) {
  if (kSanitized) GTEST_SKIP() << "a sanitizer's quarantine keeps freed memory: RSS says nothing here";
  // Peak RSS of the batch for 200 and for 4,000 quick jobs: the results are
  // not kept, so the difference is the id keys (13 bytes each) and noise.
  auto peak_for = [](int n) {
    batch_test::Workspace ws;
    std::ofstream f(ws.jobs());
    for (int i = 0; i < n; ++i)
      f << json{{"id", "job-" + std::to_string(i)}, {"args", {"true"}}}.dump() << "\n";
    f.close();
    auto run =
        batch_test::run_batch({ws.jobs(), "--parallel", "4", "--quiet"}, {}, std::chrono::seconds(240));
    EXPECT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), n);
    return run.max_rss_kb;
  };
  bs_test::NoLeaks leaks;
  const long small = peak_for(200);
  const long large = peak_for(4000);
  EXPECT_LT(large - small, 4 * 1024) << "200 jobs: " << small << " KiB, 4000 jobs: " << large << " KiB";
  leaks.expect_clean();
}

}  // namespace
