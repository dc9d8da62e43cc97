// The bounded-run command contains like the library: --containment picks
// the mechanism, the JSON says which one was used, and no escape survives.
#include <bounded_subprocess/run.hpp>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "containment_test_util.hpp"

namespace {

using namespace bs_containment;
using namespace std::chrono_literals;

// bounded-run ARGS..., itself run with process_group containment so that the
// outer run cannot hide what the inner one leaves.
bs::Result bounded_run(std::vector<std::string> args) {
  args.insert(args.begin(), BOUNDED_RUN_PATH);
  return bs::run(args,
                 {.timeout = 60s, .max_output_size = 1 << 20, .containment = bs::Containment::process_group});
}

TEST(CliEscape, ExitAndTimeout) {
  for (bs::Containment c : mechanisms()) {
    for (const auto& escape : escapes()) {
      const std::string label = std::string(bs::to_string(c)) + " / " + name(escape);
      SCOPED_TRACE(label);
      std::vector<std::string> args = {
          "--json", "--timeout", "20", "--containment", std::string(bs::to_string(c)), "--"};
      for (const auto& w : escape_argv(escape, "exit")) args.push_back(w);
      bs::Result r = bounded_run(args);
      ASSERT_EQ(r.exit_code, 0) << r << r.err.data;
      const auto j = nlohmann::json::parse(r.out.data);
      EXPECT_EQ(j["exit_code"], 0);
      EXPECT_EQ(j["containment"], std::string(bs::to_string(c)));
      expect_contained(c, label + " (exit)");

      args = {"--timeout", "0.3", "--containment", std::string(bs::to_string(c)), "--"};
      for (const auto& w : escape_argv(escape, "sleep")) args.push_back(w);
      r = bounded_run(args);
      EXPECT_EQ(r.exit_code, 124) << r << r.err.data;
      expect_contained(c, label + " (timeout)");
    }
  }
}

TEST(CliEscape, DefaultIsTheStrongestAndAMinimumIsEnforced) {
  bs::Result r = bounded_run({"--json", "--", bs_test::misbehave(), "exit", "0"});
  ASSERT_EQ(r.exit_code, 0) << r << r.err.data;
  EXPECT_EQ(nlohmann::json::parse(r.out.data)["containment"],
            std::string(bs::to_string(bs::strongest_containment())));

  r = bounded_run({"--containment", "process_group", "--min-containment", "subreaper", "--", "true"});
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_NE(r.err.data.find("weaker"), std::string::npos) << r.err.data;

  r = bounded_run({"--containment", "sideways", "--", "true"});
  EXPECT_EQ(r.exit_code, 125) << r;
  EXPECT_NE(r.err.data.find("--containment"), std::string::npos) << r.err.data;

  for (bs::Containment c :
       {bs::Containment::subreaper, bs::Containment::pid_namespace, bs::Containment::cgroup}) {
    if (bs::containment_available(c)) continue;
    // Asked for what the machine lacks: a clear error, nothing started.
    r = bounded_run({"--containment", std::string(bs::to_string(c)), "--", "true"});
    EXPECT_EQ(r.exit_code, 125) << r;
    EXPECT_NE(r.err.data.find("not available here"), std::string::npos) << r.err.data;
  }
}

// A first run is its own probe, and where the kernel has cgroup.kill, its
// own cgroup is the only proof made that one can be made: a bounded-run in
// a cgroup that may have no child (cgroup.max.descendants 0) runs its
// program with pid_namespace, after the probe, and leaves nothing there.
TEST(CliEscape, AFirstRunWhoseCgroupCannotBeMadeRunsWithoutOne) {
  if (!bs::containment_available(bs::Containment::cgroup)) GTEST_SKIP() << "no cgroup containment here";
  const std::string parent = own_cgroup_dir();
  ASSERT_FALSE(parent.empty());
  const std::string dir = parent + "/bs_no_children_" + std::to_string(::getpid());
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  { std::ofstream(dir + "/cgroup.max.descendants") << "0"; }
  // A shell moves itself in, then becomes bounded-run.
  const bs::Result r =
      bs::run({"/bin/sh", "-c",
               "echo $$ > " + dir + "/cgroup.procs && exec " + std::string(BOUNDED_RUN_PATH) + " --json -- " +
                   bs_test::misbehave() + " exit 0"},
              {.timeout = 60s, .max_output_size = 1 << 20, .containment = bs::Containment::process_group});
  EXPECT_EQ(r.exit_code, 0) << r << r.err.data;
  if (r.exit_code == 0) {
    const auto j = nlohmann::json::parse(r.out.data);
    EXPECT_EQ(j["exit_code"], 0) << r.out.data;
    EXPECT_EQ(j["containment"], "pid_namespace") << r.out.data;
  }
  EXPECT_EQ(::rmdir(dir.c_str()), 0) << dir << " holds something: " << std::strerror(errno);
}

}  // namespace
