// A run's cgroup at the edges of its life. Leftover folders named like
// ours (a dead process that had our pid was killed before it removed them)
// must not stop a run. And the memory sampler: a run whose cgroup was
// already removed (its processes all gone) is a finished run, not a blind
// watchdog. The kernel answers a read of a removed cgroup's cgroup.procs
// with ENODEV; reported as an error, it ended healthy runs as
// `watchdog_failed` whenever a sample raced with the run's end.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.hpp"
#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/run.hpp"
#include "engine/proc_memory.hpp"
#include "spawn/child.hpp"
#include "spawn/machine.hpp"

namespace {

namespace bs = bounded_subprocess;
namespace detail = bounded_subprocess::detail;

TEST(ProcMemory, ARemovedCgroupIsAFinishedRunNotAnError) {
  if (!bs::containment_available(bs::Containment::cgroup)) GTEST_SKIP() << "no cgroup containment here";
  const detail::Machine& m = detail::machine();
  const std::string name = "bs_proc_memory_test." + std::to_string(::getpid());
  ASSERT_EQ(::mkdirat(m.cgroup_parent_fd, name.c_str(), 0755), 0) << m.cgroup_parent << "/" << name;
  auto procs = std::make_shared<detail::UniqueFd>(
      ::openat(m.cgroup_parent_fd, (name + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC));
  const bool opened = static_cast<bool>(*procs);
  ASSERT_EQ(::unlinkat(m.cgroup_parent_fd, name.c_str(), AT_REMOVEDIR), 0);
  ASSERT_TRUE(opened);

  const detail::Members run{.containment = bs::Containment::cgroup, .cgroup_procs = procs};
  const auto samples = detail::sample_members({&run, 1});
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].error, 0) << "errno " << samples[0].error << " for a cgroup whose run has ended";
  EXPECT_EQ(samples[0].kb, 0u);
}

TEST(CgroupRun, LeftoverFoldersOfADeadProcessWithOurPidDoNotStopARun) {
  if (!bs::containment_available(bs::Containment::cgroup)) GTEST_SKIP() << "no cgroup containment here";
  const detail::Machine& m = detail::machine();
  // The names this process's next runs would take (a few runs came before).
  const std::string prefix = "bounded_subprocess." + std::to_string(::getpid()) + ".";
  std::vector<std::string> made;
  for (int n = 1; n <= 3000; ++n) {
    const std::string name = prefix + std::to_string(n);
    if (::mkdirat(m.cgroup_parent_fd, name.c_str(), 0755) == 0) made.push_back(name);
  }
  ASSERT_GT(made.size(), 2900u);
  std::optional<bs::Result> r;
  std::string error;
  try {
    r = bs::run({"true"}, {.containment = bs::Containment::cgroup});
  } catch (const std::exception& e) {
    error = e.what();
  }
  for (const std::string& name : made) ::unlinkat(m.cgroup_parent_fd, name.c_str(), AT_REMOVEDIR);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->exit_code, 0) << *r;
  EXPECT_EQ(r->containment, bs::Containment::cgroup);
}

}  // namespace
