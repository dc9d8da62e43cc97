// `bounded-run batch`: a result line for every kind of job and of bad line,
// the same result object as `bounded-run --json`, defaults and overrides,
// jobs from stdin and from a slow pipe, and its own errors.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "batch_test_support.hpp"

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;

TEST(BatchResults, EveryKindOfJobGetsTheResultOfBoundedRunJson) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string M = misbehave();
  ws.write_jobs({
      job("ok", {M, "exit", "0"}), job("three", {M, "exit", "3"}), job("killed", {M, "kill-self", "9"}),
      job("timeout", {M, "sleep-forever"}, {{"timeout", 0.3}}),
      job("flood", {M, "flood-out", "forever"}, {{"timeout", 0.5}, {"max_output", 16}}),
      job("tail", {M, "flood-out", "1000"}, {{"max_output", 8}, {"tail", true}}),
      job("hog", {M, "alloc-mb", "300"},
          {{"memory_limit_mb", 50}, {"memory_interval", 0.05}, {"timeout", 30}}),
      job("missing", {"bs-no-such-program-xyz"}), job("stdin", {M, "echo-stdin"}, {{"stdin", "to stdin\n"}}),
      job("env", {M, "print-env", "BS_BATCH_VAR"}, {{"env", {{"BS_BATCH_VAR", "set"}}}}),
      job("cwd", {M, "print-cwd"}, {{"cwd", ws.dir()}}), job("grandchild", {M, "fork-grandchild-sleep"}),
      job(42, {M, "exit", "0"}),
      "",  // blank lines are not jobs
  });
  auto run = batch_test::run_batch({ws.jobs(), "--parallel", "4", "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.err, "");  // --quiet
  auto results = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(results.size(), 13u) << run.out;

  // Every result is the object of `bounded-run --json` plus its id.
  const auto keys = batch_test::single_run_keys();
  for (const auto& [id, r] : results) {
    if (id == "missing") continue;
    for (const std::string& k : keys) EXPECT_TRUE(r.contains(k)) << id << " lacks " << k;
    EXPECT_EQ(r.size(), keys.size() + 1) << id << ": " << r.dump();
  }
  EXPECT_EQ(results["ok"]["exit_code"], 0);
  EXPECT_EQ(results["ok"]["reason"], "exited");
  EXPECT_EQ(results["three"]["exit_code"], 3);
  EXPECT_EQ(results["killed"]["exit_code"], -9);
  EXPECT_EQ(results["killed"]["reason"], "signaled");
  EXPECT_EQ(results["timeout"]["reason"], "timeout");
  EXPECT_EQ(results["timeout"]["timeout"], true);
  EXPECT_EQ(results["flood"]["stdout"], bs_test::misbehave_pattern(0, 16));
  EXPECT_EQ(results["flood"]["stdout_truncated"], true);
  EXPECT_EQ(results["tail"]["stdout"], bs_test::misbehave_pattern(992, 8));
  EXPECT_EQ(results["hog"]["memory_limit_exceeded"], true) << results["hog"];
  EXPECT_EQ(results["hog"]["reason"], "memory_limit");
  EXPECT_EQ(results["missing"]["reason"], "error");
  EXPECT_NE(results["missing"]["error"].get<std::string>().find("bs-no-such-program-xyz"), std::string::npos);
  EXPECT_EQ(results["stdin"]["stdout"], "to stdin\n");
  EXPECT_EQ(results["env"]["stdout"], "set\n");
  EXPECT_EQ(results["cwd"]["stdout"], std::filesystem::canonical(ws.dir()).string() + "\n");
  EXPECT_EQ(results["grandchild"]["exit_code"], 0);
  EXPECT_EQ(results["42"]["id"], 42);  // an integer id stays an integer
  for (const auto& [id, r] : results) {
    if (r.contains("cpu_seconds")) {
      EXPECT_DOUBLE_EQ(r["cpu_seconds"].get<double>(),
                       r["user_cpu_seconds"].get<double>() + r["system_cpu_seconds"].get<double>());
    }
  }
  // The grandchild that held the pipes was killed with its group.
  auto pids = bs_test::all_fields_after(results["grandchild"]["stdout"].get<std::string>(), "grandchild");
  ASSERT_EQ(pids.size(), 1u);
  leaks.expect_clean({}, {pids[0]});
}

// Jobs whose namespaces are made for them start without the batch waiting
// for their exec: a start that fails then is still an error that names the
// program or the cwd, as at the call. Sleepers hold the warm sandboxes
// first, so that most of the failing starts are made so.
TEST(BatchResults, StartsThatFailAfterTheCallAreErrorsNamingWhatFailed) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string M = misbehave();
  std::vector<json> lines;
  for (int i = 0; i < 16; ++i)
    lines.push_back(job("hold" + std::to_string(i), {M, "sleep-forever"}, {{"timeout", 1}}));
  for (int i = 0; i < 16; ++i) {
    lines.push_back(job("missing" + std::to_string(i), {"/nonexistent/bs-batch-missing"}));
    lines.push_back(
        job("nodir" + std::to_string(i), {M, "exit", "0"}, {{"cwd", "/nonexistent/bs-batch-dir"}}));
  }
  ws.write_jobs(lines);
  auto run = batch_test::run_batch({ws.jobs(), "--parallel", "48", "--quiet"});
  auto results = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(results.size(), 48u) << run.out;
  for (auto& [id, r] : results) {
    if (id.rfind("hold", 0) == 0) {
      EXPECT_EQ(r["reason"], "timeout") << r;
      continue;
    }
    ASSERT_EQ(r["reason"], "error") << r;
    const std::string error = r["error"].get<std::string>();
    const std::string named =
        id.rfind("missing", 0) == 0 ? "'/nonexistent/bs-batch-missing'" : "'/nonexistent/bs-batch-dir'";
    EXPECT_NE(error.find(named), std::string::npos) << id << ": " << error;
    EXPECT_NE(error.find("No such file or directory"), std::string::npos) << id << ": " << error;
  }
  leaks.expect_clean();
}

TEST(BatchResults, BadLinesBecomeErrorResultsAndTheBatchGoesOn) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string M = misbehave();
  ws.write_jobs({
      "not json",
      "[1, 2]",
      job("fine", {M, "exit", "0"}),
      json{{"args", {"true"}}},                            // no id
      json{{"id", 1.5}, {"args", {"true"}}},               // a float id
      json{{"id", "noargs"}},                              // no args
      json{{"id", "emptyargs"}, {"args", json::array()}},  // empty args
      json{{"id", "numargs"}, {"args", {1, 2}}},           // not strings
      job("emptyprog", {""}),                              // empty program
      job("typo", {"true"}, {{"timout", 5}}),              // unknown field
      job("badtype", {"true"}, {{"timeout", "5"}}),        // wrong type
      job("negative", {"true"}, {{"timeout", -1}}),        // out of range
      job("zero", {"true"}, {{"memory_limit_mb", 0}}),     // out of range
      job("both", {"true"}, {{"stdin", "a"}, {"stdin_file", "/dev/null"}}),
      job("volume", {"true"}, {{"volumes", {"/a:/b"}}}),  // its source does not exist
      job("clearpod", {"true"}, {{"podman", "img"}, {"clear_env", true}}),
      job("envtype", {"true"}, {{"env", {{"A", 1}}}}),
      job("fine", {M, "exit", "5"}),  // duplicate id
      job("last", {M, "exit", "0"}),
  });
  auto run = batch_test::run_batch({ws.jobs(), "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto lines = batch_test::parse_lines(run.out);
  ASSERT_EQ(lines.size(), 19u) << run.out;
  std::map<int, json> by_line;
  for (const json& l : lines) {
    if (l.contains("line")) by_line[l["line"].get<int>()] = l;
  }
  auto error_on = [&](int line, const std::string& needle) {
    SCOPED_TRACE("line " + std::to_string(line));
    ASSERT_EQ(by_line.count(line), 1u);
    const json& l = by_line[line];
    EXPECT_EQ(l["reason"], "error");
    EXPECT_EQ(l["exit_code"], -1);
    EXPECT_NE(l["error"].get<std::string>().find(needle), std::string::npos) << l["error"];
  };
  error_on(1, "not JSON");
  error_on(2, "not a JSON object");
  error_on(4, "no \"id\"");
  error_on(5, "\"id\" must be a string or an integer");
  error_on(6, "missing \"args\"");
  error_on(7, "non-empty array");
  error_on(8, "non-empty array");
  error_on(9, "empty string");
  error_on(10, "unknown field 'timout'");
  error_on(11, "field 'timeout'");
  error_on(12, "field 'timeout'");
  error_on(13, "field 'memory_limit_mb'");
  error_on(14, "exclude each other");
  error_on(15, "the source /a does not exist");
  error_on(16, "field 'clear_env' cannot be used with field 'podman'");
  error_on(17, "field 'env'");
  error_on(18, "duplicate id \"fine\"");
  EXPECT_FALSE(by_line[18].contains("id"));  // the id stays the first line's
  // Lines with a usable id keep it; the good jobs ran.
  EXPECT_EQ(by_line[6]["id"], "noargs");
  auto results = batch_test::by_id(lines);
  EXPECT_EQ(results["fine"]["exit_code"], 0);
  EXPECT_EQ(results["last"]["exit_code"], 0);
  leaks.expect_clean();
}

TEST(BatchResults, CommandLineOptionsAreDefaultsThatJobsOverride) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string M = misbehave();
  ws.write_jobs({
      job("default-timeout", {M, "sleep-forever"}),
      job("own-timeout", {M, "exit-after-ms", "600", "0"}, {{"timeout", 30}}),
      job("env-default", {M, "print-env", "BS_A"}),
      job("env-override", {M, "print-env", "BS_A"}, {{"env", {{"BS_A", "job"}}}}),
      job("env-added", {M, "print-env", "BS_A"}, {{"env", {{"BS_B", "job"}}}}),
      job("cwd-default", {M, "print-cwd"}),
      job("cwd-unset", {M, "print-cwd"}, {{"cwd", nullptr}}),
      job("max-output", {M, "flood-out", "100"}, {{"max_output", 10}}),
      job("tail-off", {M, "flood-out", "100"}, {{"tail", false}}),
  });
  auto run = batch_test::run_batch({ws.jobs(), "--quiet", "--timeout", "0.3", "--env", "BS_A=cli", "--cwd",
                                    "/", "--max-output", "4", "--tail"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto r = batch_test::by_id(batch_test::parse_lines(run.out));
  EXPECT_EQ(r["default-timeout"]["reason"], "timeout");
  EXPECT_EQ(r["own-timeout"]["reason"], "exited") << r["own-timeout"];
  EXPECT_EQ(r["env-default"]["stdout"], "cli\n");
  EXPECT_EQ(r["env-override"]["stdout"], "job\n");
  EXPECT_EQ(r["env-added"]["stdout"], "cli\n");  // the job's env adds to the command line's
  EXPECT_EQ(r["cwd-default"]["stdout"], "/\n");
  EXPECT_NE(r["cwd-unset"]["stdout"], "/\n");  // null: bounded-run's own cwd
  EXPECT_EQ(r["max-output"]["stdout"],
            bs_test::misbehave_pattern(90, 10));  // the job's bound, the default tail
  EXPECT_EQ(r["tail-off"]["stdout"], bs_test::misbehave_pattern(0, 4));
  leaks.expect_clean();
}

TEST(BatchResults, JobsFromStdinAndFromASlowPipe) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string M = misbehave();
  ws.write_jobs({job("a", {M, "exit", "1"}), job("b", {M, "exit", "2"})});
  auto from_stdin = batch_test::run_batch({"-", "--quiet"}, {.stdin_path = ws.jobs()});
  EXPECT_EQ(from_stdin.status, 0) << from_stdin.err;
  auto r = batch_test::by_id(batch_test::parse_lines(from_stdin.out));
  EXPECT_EQ(r["a"]["exit_code"], 1);
  EXPECT_EQ(r["b"]["exit_code"], 2);

  // A producer that holds the pipe open: the loop keeps serving the running
  // job (its 0.5 s deadline) while it waits for the next line.
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  cli_test::Spawned br({"batch", "-", "--quiet"}, {.stdin_fd = p[0]});
  ::close(p[0]);
  const std::string first = job("slow", {M, "sleep-forever"}, {{"timeout", 0.5}}).dump() + "\n";
  ASSERT_EQ(::write(p[1], first.data(), first.size()), static_cast<ssize_t>(first.size()));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string second = job("late", {M, "exit", "0"}).dump() + "\n";
  ASSERT_EQ(::write(p[1], second.data(), second.size()), static_cast<ssize_t>(second.size()));
  ::close(p[1]);
  EXPECT_EQ(br.wait(), 0) << br.err();
  auto piped = batch_test::by_id(batch_test::parse_lines(br.out()));
  EXPECT_EQ(piped["slow"]["reason"], "timeout");
  EXPECT_LT(piped["slow"]["elapsed_seconds"].get<double>(), 2.5) << "the loop blocked on the input";
  EXPECT_EQ(piped["late"]["exit_code"], 0);
  leaks.expect_clean();
}

TEST(BatchResults, AStdinFileFieldIsReadLikeTheOption) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  cli_test::TempFile data("file bytes");
  ws.write_jobs({job("file", {misbehave(), "echo-stdin"}, {{"stdin_file", data.path()}}),
                 job("missing", {misbehave(), "echo-stdin"}, {{"stdin_file", "/nonexistent/bs-in"}}),
                 job("zero", {misbehave(), "echo-stdin"}, {{"stdin_file", "/dev/zero"}}),
                 job("dash", {misbehave(), "echo-stdin"}, {{"stdin_file", "-"}})});
  auto run = batch_test::run_batch({ws.jobs(), "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto r = batch_test::by_id(batch_test::parse_lines(run.out));
  EXPECT_EQ(r["file"]["stdout"], "file bytes");
  EXPECT_EQ(r["missing"]["reason"], "error");
  EXPECT_NE(r["missing"]["error"].get<std::string>().find("/nonexistent/bs-in"), std::string::npos);
  EXPECT_NE(r["zero"]["error"].get<std::string>().find("more than 64 MiB"), std::string::npos) << r["zero"];
  EXPECT_NE(r["dash"]["error"].get<std::string>().find("cannot feed a batch"), std::string::npos)
      << r["dash"];
  leaks.expect_clean();
}

TEST(BatchResults, EveryJobIsContainedAndAJobMayChooseItsMechanism) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  const std::string M = misbehave();
  // Each job leaves a grandchild in a session of its own and exits.
  const std::vector<std::string> escape = {M, "escape", "setsid", "exit"};
  ws.write_jobs({
      job("default", escape),
      job("group", escape, {{"containment", "process_group"}}),
      job("sideways", escape, {{"containment", "sideways"}}),
  });
  auto run = batch_test::run_batch({ws.jobs(), "--parallel", "3", "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto results = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(results.size(), 3u) << run.out;
  EXPECT_EQ(results["default"]["containment"],
            std::string(bounded_subprocess::to_string(bounded_subprocess::strongest_containment())));
  EXPECT_EQ(results["group"]["containment"], "process_group");
  EXPECT_EQ(results["sideways"]["reason"], "error");
  EXPECT_NE(results["sideways"]["error"].get<std::string>().find("containment"), std::string::npos)
      << results["sideways"];
  // Only the process_group job's escapee survived (this test process is a
  // subreaper: it adopted it); it is the pid the job printed.
  const auto escaped = bs_test::all_fields_after(results["group"]["stdout"].get<std::string>(), "escaped");
  ASSERT_EQ(escaped.size(), 1u) << results["group"];
  EXPECT_EQ(bs_test::live_descendants(), std::vector<pid_t>{static_cast<pid_t>(escaped[0])});
  for (pid_t pid : bs_test::live_descendants()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);  // adopted: ours to reap
  }

  // A job may not go below the command line's minimum.
  ws.write_jobs({job("weak", {"true"}, {{"containment", "process_group"}}), job("strong", {"true"})});
  run = batch_test::run_batch({ws.jobs(), "--min-containment", "subreaper", "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  results = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(results.size(), 2u) << run.out;
  EXPECT_EQ(results["weak"]["reason"], "error");
  EXPECT_NE(results["weak"]["error"].get<std::string>().find("weaker"), std::string::npos) << results["weak"];
  EXPECT_EQ(results["strong"]["exit_code"], 0) << results["strong"];
  leaks.expect_clean();
}

TEST(BatchResults, ItsOwnErrorsExit125) {
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  ws.write_jobs({job("a", {"true"})});
  const std::string out = ws.path("out.jsonl");
  {
    std::ofstream f(out);
    f << "{\"id\":\"x\",\"exit_code\":0}\n";
  }
  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"/nonexistent/jobs.jsonl"}, "/nonexistent/jobs.jsonl"},
      {{}, "JOBS"},
      {{ws.jobs(), "--output", out}, "--resume"},  // refuses to clobber results
      {{ws.jobs(), "--resume"}, "--resume needs --output"},
      {{ws.jobs(), "--shard", "2/2"}, "--shard"},
      {{ws.jobs(), "--shard", "x"}, "--shard"},
      {{ws.jobs(), "--parallel", "0"}, "--parallel"},
      {{ws.jobs(), "--shard-by", "size"}, "--shard-by"},
      {{ws.jobs(), "--timeout", "0x10"}, "--timeout"},
      {{ws.jobs(), "--stdin-data", "a", "--stdin-file", "b"}, "exclude each other"},
      {{ws.jobs(), "--progress", "sometimes"}, "--progress"},
      {{ws.jobs(), "--stdin-file", "-"}, "--stdin-file -"},
      {{ws.jobs(), "--containment", "sideways"}, "--containment"},
      {{ws.jobs(), "--containment", "process_group", "--min-containment", "subreaper"}, "weaker"},
  };
  for (const Case& c : cases) {
    auto run = batch_test::run_batch(c.args);
    EXPECT_EQ(run.status, 125) << run.err;
    EXPECT_EQ(run.out, "");
    EXPECT_EQ(run.err.rfind("bounded-run: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(c.needle), std::string::npos) << run.err;
  }
  EXPECT_EQ(batch_test::count_lines(out), 1u);  // untouched
  auto overwrite = batch_test::run_batch({ws.jobs(), "--output", out, "--overwrite", "--quiet"});
  EXPECT_EQ(overwrite.status, 0) << overwrite.err;
  EXPECT_EQ(batch_test::by_id(batch_test::read_results(out)).count("a"), 1u);
  leaks.expect_clean();
}

}  // namespace
