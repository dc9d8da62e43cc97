// bounded-run's isolation flags and the batch's fields: each reaches the run
// (the same command without it is the control), the limits hit are in the
// JSON, bad values are errors (exit 125, or an error line of the batch).
#include <gtest/gtest.h>
#include <unistd.h>
#include <bounded_subprocess/run.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cgroup_folders.hpp"

namespace bs = bounded_subprocess;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string kBoundedRun = BOUNDED_RUN_PATH;
const std::string kProbe = BS_ISOLATION_PROBE_PATH;

json run_json(std::vector<std::string> flags, const std::vector<std::string>& program) {
  std::vector<std::string> argv{kBoundedRun, "--json"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.emplace_back("--");
  argv.insert(argv.end(), program.begin(), program.end());
  // bounded-run itself in a PID namespace only: in the cgroup namespace of
  // a cgroup run it could not find its own cgroup for the runs it makes.
  const bs::Result r = bs::run(
      argv, {.timeout = 60s, .max_output_size = 1 << 20, .containment = bs::Containment::pid_namespace});
  std::string command;
  for (const auto& a : argv) command += a + " ";
  EXPECT_EQ(r.exit_code, 0) << command << "\n" << r << r.err.data;
  if (r.exit_code != 0) return json::object();
  return json::parse(r.out.data);
}

TEST(CliIsolation, EveryFlagReachesTheRun) {
  if (!bs::containment_available(bs::Containment::pid_namespace)) GTEST_SKIP() << "no PID namespace here";
  // A folder of the host's user, outside the scratch.
  char dir[] = "/var/tmp/bs_isolation_cli_XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string file = std::string(dir) + "/probe";
  const std::string script = "echo hi > /tmp/a && cat /tmp/a; touch " + file + " 2>/dev/null || echo ro";
  const json open = run_json({"--scratch-mb", "16"}, {"/bin/sh", "-c", script + "; echo $?"});
  EXPECT_EQ(open["stdout"], "hi\n0\n")
      << "the control: without --read-only the folder was writable " << open.dump();
  ::unlink(file.c_str());
  const json j =
      run_json({"--network", "none", "--read-only", "--scratch-mb", "16", "--volume", "/etc:/mnt:ro"},
               {"/bin/sh", "-c", script});
  EXPECT_EQ(j["stdout"], "hi\nro\n") << j.dump();
  EXPECT_NE(::access(file.c_str(), F_OK), 0) << "a read-only run created " << file;
  ::unlink(file.c_str());
  ::rmdir(dir);
  // The program itself killed by SIGXFSZ (a grandchild reaped by its own
  // parent is not seen: see the docs).
  const json big =
      run_json({"--scratch-mb", "16", "--file-size-limit-mb", "1"}, {kProbe, "write-mb", "/tmp/big", "3"});
  EXPECT_EQ(big["limits_hit"]["file_size"], true) << big.dump();
  EXPECT_EQ(big["signal"], SIGXFSZ) << big.dump();
  const json fits = run_json({"--scratch-mb", "16"}, {kProbe, "write-mb", "/tmp/big", "3"});
  EXPECT_EQ(fits["limits_hit"]["file_size"], false) << fits.dump();
  EXPECT_EQ(fits["exit_code"], 0) << fits.dump();
  const json pids = run_json({"--pids-limit", "8", "--timeout", "2"}, {kProbe, "fork", "30"});
  int forked = -1, err = -1;
  ASSERT_EQ(std::sscanf(pids.value("stdout", std::string()).c_str(), "forked %d errno %d", &forked, &err), 2)
      << pids.dump();
  EXPECT_LT(forked, 8) << pids.dump();
  if (::geteuid() == 0) {
    EXPECT_EQ(pids["limits_hit"]["pids"], true) << pids.dump();
  }
  const json net = run_json({"--network", "none"}, {kProbe, "self-loopback"});
  EXPECT_EQ(net["exit_code"], 0) << net.dump();
  const json vol =
      run_json({"--read-only", "--volume", "/etc:/mnt:ro"}, {"/bin/sh", "-c", "test -e /mnt/passwd"});
  EXPECT_EQ(vol["exit_code"], 0) << vol.dump();
}

TEST(CliIsolation, CpuLimitVerdict) {
  if (!bs::containment_available(bs::Containment::cgroup)) {
    // The clear error (exit 125), not a run without the limit.
    const bs::Result r =
        bs::run({kBoundedRun, "--cpu-limit", "0.3", "--", kProbe, "spin", "1"}, {.timeout = 60s});
    EXPECT_EQ(r.exit_code, 125) << r;
    EXPECT_NE(r.err.data.find("cpu_limit"), std::string::npos) << r.err.data;
    return;
  }
  const json j = run_json({"--cpu-limit", "0.3", "--timeout", "30"}, {kProbe, "spin", "1"});
  EXPECT_EQ(j["reason"], "cpu_limit") << j.dump();
  EXPECT_EQ(j["limits_hit"]["cpu"], true) << j.dump();
}

TEST(CliIsolation, BatchAcceptsEveryField) {
  if (!bs::containment_available(bs::Containment::pid_namespace)) GTEST_SKIP() << "no PID namespace here";
  char name[] = "/tmp/bs_isolation_jobs_XXXXXX";
  const int fd = ::mkstemp(name);
  ASSERT_GE(fd, 0);
  ::close(fd);
  {
    std::ofstream jobs(name);
    jobs << json{{"id", "all"},
                 {"args", {"/bin/sh", "-c", "echo $TMPDIR; touch /usr/x 2>/dev/null || echo ro"}},
                 {"network", "none"},
                 {"read_only", true},
                 {"scratch_mb", 8},
                 {"volumes", {"/etc:/mnt:ro"}},
                 {"pids_limit", 16},
                 {"file_size_limit_mb", 4},
                 {"memory_limit_mb", 256}}
                .dump()
         << "\n"
         << json{{"id", "bad"}, {"args", {"true"}}, {"network", "bridge"}}.dump() << "\n"
         << json{{"id", "missing"}, {"args", {"true"}}, {"volumes", {"/nonexistent/bs:/mnt"}}}.dump() << "\n";
  }
  const bs::Result r =
      bs::run({kBoundedRun, "batch", name, "--quiet"},
              {.timeout = 60s, .max_output_size = 1 << 20, .containment = bs::Containment::pid_namespace});
  ::unlink(name);
  std::map<std::string, json> by_id;
  std::istringstream lines(r.out.data);
  for (std::string line; std::getline(lines, line);) {
    const json j = json::parse(line);
    by_id[j["id"]] = j;
  }
  ASSERT_EQ(by_id.size(), 3u) << r << r.out.data << r.err.data;
  EXPECT_EQ(by_id["all"]["stdout"], "/tmp\nro\n") << by_id["all"].dump();
  EXPECT_EQ(by_id["all"]["exit_code"], 0);
  EXPECT_EQ(by_id["bad"]["reason"], "error");
  EXPECT_EQ(by_id["missing"]["reason"], "error");
}

// This process's own cgroup of the v1 pids hierarchy, or "" (not mounted,
// or a pure cgroup v2 machine).
std::string own_v1_pids_dir() {
  std::string own;
  std::ifstream cgroups("/proc/self/cgroup");
  for (std::string line; std::getline(cgroups, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::istringstream names(line.substr(a + 1, b - a - 1));
    for (std::string n; std::getline(names, n, ',');)
      if (n == "pids") own = line.substr(b + 1);
  }
  if (own.empty()) return "";
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    const auto dash = line.find(" - cgroup ");
    if (dash == std::string::npos || line.find("pids", dash) == std::string::npos) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    if (root == "/") return mount_point + (own == "/" ? "" : own);
  }
  return "";
}

// A host killed with SIGKILL leaves its runs' v1 limit cgroups behind (v1
// tells nobody when a cgroup empties). The next process that sets a limit
// removes those, and only those: a folder whose creator still holds its
// lock stays.
TEST(CliIsolation, LeftoverV1LimitCgroupsOfDeadHostsAreRemoved) {
  if (::geteuid() != 0) GTEST_SKIP() << "the v1 hierarchies are root's";
  const std::string dir = own_v1_pids_dir();
  if (dir.empty()) GTEST_SKIP() << "no v1 pids hierarchy here";
  const std::string stale = dir + "/bounded_subprocess.999999999.1";
  const std::string alive = dir + "/bounded_subprocess.999999999.2";
  ASSERT_EQ(::mkdir(stale.c_str(), 0755), 0) << stale << ": " << std::strerror(errno);
  ASSERT_EQ(::mkdir(alive.c_str(), 0755), 0) << alive << ": " << std::strerror(errno);
  const int lock = ::open(alive.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_SH), 0);
  const json j = run_json({"--pids-limit", "8"}, {"true"});
  EXPECT_EQ(j["exit_code"], 0) << j.dump();
  struct stat st {};
  EXPECT_NE(::stat(stale.c_str(), &st), 0) << "a folder no process holds was left: " << stale;
  EXPECT_EQ(::stat(alive.c_str(), &st), 0) << "a folder whose creator lives was removed: " << alive;
  ::close(lock);
  ::rmdir(stale.c_str());
  ::rmdir(alive.c_str());
}

// bounded-run leaves no v1 limit cgroup behind.
TEST(CliIsolation, NoV1LimitCgroupOutlivesBoundedRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "the v1 hierarchies are root's";
  const std::string dir = own_v1_pids_dir();
  if (dir.empty()) GTEST_SKIP() << "no v1 pids hierarchy here";
  // bounded-run with its pid as the host sees it (the folders' names hold it).
  const bs::Result r = bs::run({"/bin/sh", "-c", "echo $$; exec " + kBoundedRun + " --pids-limit 8 -- true"},
                               {.timeout = 60s, .containment = bs::Containment::process_group});
  ASSERT_EQ(r.exit_code, 0) << r << r.err.data;
  const pid_t host = std::atoi(r.out.data.c_str());
  ASSERT_GT(host, 0) << r.out.data;
  const auto left = cgroups_of(dir, host);
  EXPECT_TRUE(left.empty()) << "left " << (left.empty() ? "" : left.front());
}

}  // namespace
