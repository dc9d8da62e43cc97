// Shared by the containment tests: the escapes a hostile program tries, the
// check from outside that nothing of a run is left, and where runs' cgroups
// are.
#pragma once

#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <bounded_subprocess/containment.hpp>

#include "leak_check.hpp"

namespace bs_containment {

namespace bs = bounded_subprocess;

/// Each way out of a process group (tests/helper/misbehave.cpp, `escape`).
inline const std::vector<std::vector<std::string>>& escapes() {
  static const std::vector<std::vector<std::string>> all = {
      {"setsid"}, {"setpgid"}, {"daemon"}, {"hold-stdout"}, {"stop"}, {"block-signals"}, {"loop", "50"},
  };
  return all;
}

inline std::string name(const std::vector<std::string>& escape) {
  std::string s;
  for (const auto& w : escape) s += (s.empty() ? "" : " ") + w;
  return s;
}

/// The helper's argv: escape KIND [N] THEN.
inline std::vector<std::string> escape_argv(const std::vector<std::string>& escape, const std::string& then) {
  std::vector<std::string> argv = {bs_test::misbehave(), "escape"};
  argv.insert(argv.end(), escape.begin(), escape.end());
  argv.push_back(then);
  return argv;
}

using bs_test::live_descendants;

/// SIGKILLs every live descendant and reaps the adopted ones (after a
/// process_group run, whose escapees do survive).
inline void kill_descendants() {
  for (int round = 0; round < 100; ++round) {
    const std::vector<pid_t> alive = live_descendants();
    if (alive.empty()) return;
    for (pid_t pid : alive) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

/// After a run under `c` has ended: nothing of it is left, at once (the
/// init reaps everything before it reports), or, with process_group, the
/// escapee did survive (what that mechanism cannot prevent; it also shows
/// that this check can fail), and is then killed.
inline void expect_contained(bs::Containment c, const std::string& what) {
  SCOPED_TRACE(what);
  if (c == bs::Containment::process_group) {
    // The escapee left the group before the run ended: it survives.
    const bool none_left = bs_test::still_true_after([] { return live_descendants().empty(); });
    EXPECT_FALSE(none_left) << "process_group contained an escape it cannot contain: is the check blind?";
    kill_descendants();
    return;
  }
  const std::vector<pid_t> left = live_descendants();
  EXPECT_TRUE(left.empty()) << left.size() << " process(es) left, e.g. pid " << (left.empty() ? 0 : left[0]);
  if (!left.empty()) kill_descendants();
  // The warm sandboxes of a host that has exited end by themselves (their
  // channel to it closed); nobody waits for them, so they may take a moment.
  EXPECT_FALSE(bs_test::still_true_after([] { return bs_test::warm_sandboxes_left(); }))
      << "a warm sandbox outlived its host";
  live_descendants();  // reaps them
}

/// The mechanisms this machine offers, weakest first.
inline std::vector<bs::Containment> mechanisms() {
  return bs_test::available_containments();
}

// The folder of this process's cgroup v2 (the parent of its runs'
// cgroups), or "" when there is none.
inline std::string own_cgroup_dir() {
  std::ifstream cgroup("/proc/self/cgroup");
  std::string path;
  for (std::string line; std::getline(cgroup, line);)
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    const auto dash = line.find(" - ");
    if (dash != std::string::npos && line.compare(dash + 3, 8, "cgroup2 ") == 0 && root == "/")
      return mount_point + (path == "/" ? "" : path);
  }
  return "";
}

}  // namespace bs_containment
