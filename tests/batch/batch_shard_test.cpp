// `bounded-run batch --shard I/N` (and the Slurm array variables): the
// shards of a JOBS file cover every job exactly once, for several N, by line
// and by id; `bounded-run batch-merge` joins them and says what is missing.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "batch_test_support.hpp"

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;

constexpr int kJobs = 37;

void write_numbered_jobs(const batch_test::Workspace& ws) {
  std::vector<json> jobs;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(job("id-" + std::to_string(i), {misbehave(), "exit", std::to_string(i % 5)}));
    if (i % 10 == 3) jobs.push_back("");  // blank lines belong to no shard
  }
  jobs.push_back("not json");  // a bad line belongs to exactly one shard too
  ws.write_jobs(jobs);
}

// Every result of every shard: id (or "line N") -> how many shards have it.
std::map<std::string, int> union_of(const std::vector<std::string>& outputs) {
  std::map<std::string, int> seen;
  for (const std::string& out : outputs) {
    for (const auto& [id, r] : batch_test::by_id(batch_test::read_results(out))) ++seen[id];
  }
  return seen;
}

void expect_exact_cover(const std::map<std::string, int>& seen) {
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kJobs) + 1);  // + the bad line
  for (int i = 0; i < kJobs; ++i) {
    const std::string id = "id-" + std::to_string(i);
    auto it = seen.find(id);
    EXPECT_TRUE(it != seen.end() && it->second == 1) << id << " in " << (it == seen.end() ? 0 : it->second);
  }
}

class BatchShards : public ::testing::TestWithParam<const char*> {};

TEST_P(BatchShards, CoverEveryJobExactlyOnce) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  write_numbered_jobs(ws);
  for (int n : {1, 2, 3, 7}) {
    SCOPED_TRACE("N = " + std::to_string(n));
    std::vector<std::string> outputs;
    std::size_t nonempty = 0;
    for (int i = 0; i < n; ++i) {
      const std::string out =
          ws.path(std::string(GetParam()) + "-" + std::to_string(n) + "-" + std::to_string(i));
      auto run = batch_test::run_batch({ws.jobs(), "--shard", std::to_string(i) + "/" + std::to_string(n),
                                        "--shard-by", GetParam(), "--output", out, "--quiet"});
      EXPECT_EQ(run.status, 0) << run.err;
      outputs.push_back(out);
      nonempty += batch_test::count_lines(out) > 0;
    }
    expect_exact_cover(union_of(outputs));
    EXPECT_GE(nonempty, static_cast<std::size_t>(std::min(n, 2)));  // the jobs are spread
  }
  leaks.expect_clean();
}

INSTANTIATE_TEST_SUITE_P(By, BatchShards, ::testing::Values("line", "id"));

TEST(BatchShardsSlurm, TheArrayVariablesPickTheShardAndPercentA) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  write_numbered_jobs(ws);
  // sbatch --array=1-4: task ids 1..4, min 1, count 4.
  std::vector<std::string> outputs;
  for (int task = 1; task <= 4; ++task) {
    auto run = batch_test::run_batch(
        {ws.jobs(), "--output", ws.path("slurm-%a.jsonl"), "--quiet"},
        {.env = {"SLURM_ARRAY_TASK_ID=" + std::to_string(task), "SLURM_ARRAY_TASK_COUNT=4",
                 "SLURM_ARRAY_TASK_MIN=1", "SLURM_ARRAY_TASK_MAX=4", "SLURM_ARRAY_TASK_STEP=1"}});
    EXPECT_EQ(run.status, 0) << run.err;
    outputs.push_back(ws.path("slurm-" + std::to_string(task - 1) + ".jsonl"));  // %a is the shard index
  }
  expect_exact_cover(union_of(outputs));
  // A stepped array (--array=0-6:2): ids 0,2,4,6 are shards 0..3 of 4.
  std::vector<std::string> stepped;
  for (int task = 0; task <= 6; task += 2) {
    const std::string out = ws.path("step-" + std::to_string(task));
    auto run = batch_test::run_batch(
        {ws.jobs(), "--output", out, "--quiet"},
        {.env = {"SLURM_ARRAY_TASK_ID=" + std::to_string(task), "SLURM_ARRAY_TASK_COUNT=4",
                 "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=6", "SLURM_ARRAY_TASK_STEP=2"}});
    EXPECT_EQ(run.status, 0) << run.err;
    stepped.push_back(out);
  }
  expect_exact_cover(union_of(stepped));
  // An array that is not one evenly stepped range is refused.
  auto uneven = batch_test::run_batch({ws.jobs(), "--quiet"},
                                      {.env = {"SLURM_ARRAY_TASK_ID=5", "SLURM_ARRAY_TASK_COUNT=3",
                                               "SLURM_ARRAY_TASK_MIN=0", "SLURM_ARRAY_TASK_MAX=5"}});
  EXPECT_EQ(uneven.status, 125);
  EXPECT_NE(uneven.err.find("evenly stepped"), std::string::npos) << uneven.err;
  // --shard wins over the variables.
  auto explicit_shard = batch_test::run_batch(
      {ws.jobs(), "--shard", "0/1", "--quiet"},
      {.env = {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=2", "SLURM_ARRAY_TASK_MIN=0"}});
  EXPECT_EQ(batch_test::parse_lines(explicit_shard.out).size(), static_cast<std::size_t>(kJobs) + 1);
  leaks.expect_clean();
}

TEST(BatchMerge, JoinsShardsAndReportsWhatIsMissing) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  write_numbered_jobs(ws);
  std::vector<std::string> outputs;
  for (int i = 0; i < 3; ++i) {
    outputs.push_back(ws.path("part" + std::to_string(i)));
    auto run = batch_test::run_batch(
        {ws.jobs(), "--shard", std::to_string(i) + "/3", "--output", outputs.back(), "--quiet"});
    ASSERT_EQ(run.status, 0) << run.err;
  }
  const std::string merged = ws.path("merged.jsonl");
  std::vector<std::string> args{"batch-merge", "--jobs", ws.jobs(), "--output", merged};
  args.insert(args.end(), outputs.begin(), outputs.end());
  cli_test::Spawned ok(args, {});
  EXPECT_EQ(ok.wait(), 0) << ok.err();
  expect_exact_cover(union_of({merged}));
  EXPECT_NE(ok.err().find(std::to_string(kJobs + 1) + " results from 3 files"), std::string::npos)
      << ok.err();

  // One shard missing, one given twice: exit 1, the missing ids named.
  cli_test::Spawned partial({"batch-merge", "--jobs", ws.jobs(), outputs[0], outputs[1], outputs[1]}, {});
  EXPECT_EQ(partial.wait(), 1);
  EXPECT_NE(partial.err().find("duplicates dropped"), std::string::npos) << partial.err();
  EXPECT_NE(partial.err().find("no result for id \"id-2\""), std::string::npos) << partial.err();
  const auto lines = batch_test::parse_lines(partial.out());
  batch_test::by_id(lines);  // each id once
  leaks.expect_clean();
}

}  // namespace
