// What `bounded-run batch` (and batch-merge) reads is read with bounded
// memory and time: a device, a FIFO or a file without line ends given as the
// results to resume, the jobs or a shard ends in a clear error (exit 125,
// the file named) before any job starts, with a peak RSS far below what
// the source holds. An output that is the jobs file itself is refused,
// --resume accepts only lines that are results, and an option given an
// empty value is an error.
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "batch_test_support.hpp"

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;
using namespace std::chrono_literals;

using batch_test::kSanitized;

// One 64 MiB line and little else; an unbounded read of these sources would
// grow until the test's deadline. A sanitizer's shadow memory and quarantine
// (freed buffers kept) add about half again: its bound is looser.
constexpr long kPeakRssLimitKb = (kSanitized ? 400 : 100) * 1024;
// Generous on a loaded machine; the reads themselves take well under a second.
constexpr auto kQuick = 60s;

// A job that leaves a file behind when it runs.
json marker_job(const std::string& id, const std::string& marker) {
  return job(id, {"/bin/sh", "-c", "touch " + marker});
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

// A regular file of `bytes` NUL bytes and no line end (sparse: no disk).
void make_lineless_file(const std::string& path, off_t bytes) {
  std::ofstream(path).close();
  ASSERT_EQ(::truncate(path.c_str(), bytes), 0);
}

void expect_clear_error(const batch_test::BatchRun& r, const std::string& named) {
  EXPECT_EQ(r.status, 125) << r.err;
  EXPECT_NE(r.err.find(named), std::string::npos) << "the message must name " << named << ": " << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  EXPECT_LT(r.max_rss_kb, kPeakRssLimitKb) << "peak RSS of bounded-run";
}

TEST(BatchInputs, ResumeFromADeviceOrAFifoIsRefusedBeforeAnyJob) {
  batch_test::Workspace ws;
  const std::string marker = ws.path("ran");
  ws.write_jobs({marker_job("a", marker)});
  const std::string fifo = ws.path("results.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& output : {std::string("/dev/zero"), std::string("/dev/full"), fifo}) {
    SCOPED_TRACE(output);
    bs_test::NoLeaks leaks;
    auto r = batch_test::run_batch({ws.jobs(), "--quiet", "--output", output, "--resume"}, {}, kQuick);
    expect_clear_error(r, "'" + output + "'");
    EXPECT_NE(r.err.find("regular file"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a job ran";
    leaks.expect_clean();
  }
}

TEST(BatchInputs, ResumeFromAFileWithoutLineEndsStopsAtTheLineCap) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string marker = ws.path("ran");
  ws.write_jobs({marker_job("a", marker)});
  const std::string results = ws.path("results.jsonl");
  make_lineless_file(results, off_t{100} << 20);
  auto r = batch_test::run_batch({ws.jobs(), "--quiet", "--output", results, "--resume"}, {}, kQuick);
  expect_clear_error(r, "'" + results + "'");
  EXPECT_NE(r.err.find("64 MiB"), std::string::npos) << r.err;
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a job ran";
  struct stat st {};
  ASSERT_EQ(::stat(results.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, off_t{100} << 20) << "the file it could not resume from was changed";
  leaks.expect_clean();
}

TEST(BatchInputs, JobsFromAnEndlessSourceEndInAnError) {
  batch_test::Workspace ws;
  // /dev/zero by name, and as the stdin of `batch -`.
  {
    auto r = batch_test::run_batch({"/dev/zero", "--quiet"}, {}, kQuick);
    expect_clear_error(r, "'/dev/zero'");
    EXPECT_NE(r.err.find("no end of line"), std::string::npos) << r.err;
  }
  {
    cli_test::ChildSetup setup;
    setup.stdin_path = "/dev/zero";
    auto r = batch_test::run_batch({"-", "--quiet"}, setup, kQuick);
    expect_clear_error(r, "JOBS '-'");
  }
  // A finite line over the cap stays one error line, and the batch goes on.
  const std::string jobs = ws.path("long.jsonl");
  make_lineless_file(jobs, off_t{100} << 20);
  {
    std::ofstream f(jobs, std::ios::binary | std::ios::app);
    f << "\n" << job("after", {misbehave(), "exit", "0"}).dump() << "\n";
  }
  auto r = batch_test::run_batch({jobs, "--quiet"}, {}, kQuick);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_LT(r.max_rss_kb, kPeakRssLimitKb);
  auto results = batch_test::by_id(batch_test::parse_lines(r.out));
  ASSERT_EQ(results.count("line 1"), 1u) << r.out.substr(0, 500);
  EXPECT_NE(results["line 1"]["error"].get<std::string>().find("longer than 64 MiB"), std::string::npos);
  ASSERT_EQ(results.count("after"), 1u);
  EXPECT_EQ(results["after"]["exit_code"], 0);
}

TEST(BatchInputs, MergeOfAnEndlessShardOrJobsFileEndsInAnError) {
  batch_test::Workspace ws;
  const std::string shard = ws.path("shard.jsonl");
  write_file(shard, "");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"batch-merge", "/dev/zero"}, {"batch-merge", "--jobs", "/dev/zero", shard}}) {
    cli_test::Spawned merge(args, {});
    const int status = merge.wait(kQuick);
    EXPECT_EQ(status, 125) << merge.err();
    EXPECT_NE(merge.err().find("'/dev/zero'"), std::string::npos) << merge.err();
    EXPECT_LT(merge.max_rss_kb(), kPeakRssLimitKb);
  }
}

TEST(BatchInputs, AnOutputThatIsTheJobsFileIsRefused) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string marker = ws.path("ran");
  ws.write_jobs({marker_job("a", marker), marker_job("b", marker)});
  const std::string before = read_file(ws.jobs());
  const std::string link = ws.path("link.jsonl");
  ASSERT_EQ(::symlink(ws.jobs().c_str(), link.c_str()), 0);
  for (const auto& extra : std::vector<std::vector<std::string>>{{"--overwrite"}, {"--resume"}, {}}) {
    for (const std::string& output : {ws.jobs(), link}) {
      std::vector<std::string> args{ws.jobs(), "--quiet", "--output", output};
      args.insert(args.end(), extra.begin(), extra.end());
      auto r = batch_test::run_batch(args, {}, kQuick);
      EXPECT_EQ(r.status, 125) << r.err;
      EXPECT_NE(r.err.find("is the jobs file"), std::string::npos) << r.err;
      EXPECT_EQ(read_file(ws.jobs()), before) << "the jobs file was changed";
    }
  }
  // The jobs file as stdin (`-`), the same file as --output.
  cli_test::ChildSetup setup;
  setup.stdin_path = ws.jobs();
  auto r = batch_test::run_batch({"-", "--quiet", "--output", ws.jobs(), "--overwrite"}, setup, kQuick);
  EXPECT_EQ(r.status, 125) << r.err;
  EXPECT_EQ(read_file(ws.jobs()), before);
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a job ran";
  leaks.expect_clean();
}

TEST(BatchInputs, ResumeTakesOnlyResultLinesAsResults) {
  batch_test::Workspace ws;
  const std::string marker = ws.path("ran");
  ws.write_jobs({marker_job("b5", marker)});
  const std::string results = ws.path("results.jsonl");
  for (const std::string& line : {std::string(R"({"id":"b5","exit_code":0})"), job("b5", {"true"}).dump(),
                                  std::string(R"({"id":"b5","exit_code":0,"reason":"exited"})"),
                                  std::string(R"({"id":"b5","exit_code":-1,"reason":"error"})")}) {
    SCOPED_TRACE(line);
    write_file(results, line + "\n");
    auto r = batch_test::run_batch({ws.jobs(), "--quiet", "--output", results, "--resume"}, {}, kQuick);
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find("not a result line"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(results), std::string::npos) << r.err;
    EXPECT_EQ(read_file(results), line + "\n") << "the results file was changed";
    EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the job ran";
  }
  // A real result of the job is taken: the job does not run again.
  write_file(results, "");
  auto first = batch_test::run_batch({ws.jobs(), "--quiet", "--output", results, "--resume"}, {}, kQuick);
  ASSERT_EQ(first.status, 0) << first.err;
  ASSERT_EQ(::unlink(marker.c_str()), 0) << "the job did not run";
  auto again = batch_test::run_batch({ws.jobs(), "--quiet", "--output", results, "--resume"}, {}, kQuick);
  EXPECT_EQ(again.status, 0) << again.err;
  EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "a finished job ran again";
  EXPECT_EQ(batch_test::count_lines(results), 1u);
}

TEST(BatchInputs, AnOptionGivenAnEmptyValueIsAnError) {
  batch_test::Workspace ws;
  const std::string marker = ws.path("ran");
  ws.write_jobs({marker_job("a", marker)});
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--shard", ""}, {"--shard="}, {"--output", ""}, {"--parallel", ""}, {"--memory-budget-mb", ""}}) {
    SCOPED_TRACE(args.front());
    std::vector<std::string> all{ws.jobs(), "--quiet"};
    all.insert(all.end(), args.begin(), args.end());
    auto r = batch_test::run_batch(all, {}, kQuick);
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find("empty"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the job ran";
  }
  // A Slurm array's shard is still taken when --shard is left out.
  cli_test::ChildSetup slurm;
  slurm.env = {"SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_TASK_COUNT=2", "SLURM_ARRAY_TASK_MIN=0"};
  auto r = batch_test::run_batch({ws.jobs(), "--quiet"}, slurm, kQuick);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.out.empty()) << "job 0 belongs to shard 0 of 2: " << r.out;
}

TEST(BatchInputs, CommandLineMistakesAreRefusedBeforeAnyJob) {
  batch_test::Workspace ws;
  const std::string marker = ws.path("ran");
  ws.write_jobs({marker_job("a", marker)});
  struct Case {
    std::vector<std::string> args;
    const char* needle;
  };
  for (const Case& c :
       std::vector<Case>{{{ws.jobs(), ws.jobs()}, "one JOBS file only"},
                         {{"--quiet"}, "missing JOBS"},
                         {{ws.jobs(), "--parallel"}, "--parallel needs a value"},
                         {{ws.jobs(), "--parallel", "2", "--parallel=3"}, "more than once"},
                         {{ws.jobs(), "--quiet=yes"}, "--quiet takes no value"},
                         {{ws.jobs(), "-x"}, "unknown option -x"},
                         {{ws.jobs(), "--no-such-option"}, "unknown option --no-such-option"}}) {
    SCOPED_TRACE(c.args.back());
    auto r = batch_test::run_batch(c.args, {}, kQuick);
    EXPECT_EQ(r.status, 125) << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(::access(marker.c_str(), F_OK), 0) << "the job ran";
  }
  // The short spellings, a value attached with '=' or to a short alias, and
  // JOBS after the options all work.
  const std::string results = ws.path("results.jsonl");
  auto r = batch_test::run_batch({"-q", "--parallel=1", "-o" + results, ws.jobs()}, {}, kQuick);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");  // -q
  EXPECT_EQ(batch_test::count_lines(results), 1u);
  EXPECT_EQ(::unlink(marker.c_str()), 0) << "the job did not run";
  // batch-merge: its output may not be an empty string either.
  cli_test::Spawned merge({"batch-merge", "--output", "", results}, {});
  EXPECT_EQ(merge.wait(), 125) << merge.err();
  EXPECT_NE(merge.err().find("--output: the value is an empty string"), std::string::npos) << merge.err();
}

TEST(BatchInputs, AnEnvironmentNameWithANulIsNamedEscaped) {
  batch_test::Workspace ws;
  ws.write_jobs({R"({"id":"a","args":["true"],"env":{"A\u0000B":"x"}})"});
  auto r = batch_test::run_batch({ws.jobs(), "--quiet"}, {}, kQuick);
  EXPECT_EQ(r.status, 0) << r.err;
  auto results = batch_test::by_id(batch_test::parse_lines(r.out));
  ASSERT_EQ(results.count("a"), 1u) << r.out;
  const std::string error = results["a"].value("error", "");
  EXPECT_NE(error.find("A\\u0000B"), std::string::npos) << "the name, escaped, whole: " << error;
  EXPECT_NE(error.find("NUL"), std::string::npos) << error;
}

}  // namespace
