// Test support for the podman tests (real podman, never a mock): the test
// image, the probe that decides whether podman can run containers here at all
// (the only reason to skip), and the checks run after every test: no
// container left by this test process, no cidfile or temp folder left, no
// fd or zombie leaked.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bounded_subprocess/run.hpp"
#include "leak_check.hpp"

#ifndef BS_PODMAN_IMAGE
#error "BS_PODMAN_IMAGE must be defined by tests/podman/CMakeLists.txt"
#endif

namespace bs_podman_test {

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

inline std::string image() {
  return std::string(BS_PODMAN_IMAGE) + ":latest";
}
inline std::string entrypoint_image() {
  return std::string(BS_PODMAN_IMAGE) + ":entrypoint";
}

/// Runs a podman command on the host (bounded) for the checks.
inline bs::Result podman(std::vector<std::string> args, bs::Seconds timeout = 60s) {
  args.insert(args.begin(), "podman");
  return bs::run(args, {.timeout = timeout, .max_output_size = 1 << 20});
}

/// Why podman cannot run containers here, or "" when it can. Read from the
/// probe file the podman_test_image fixture writes; probed here when the
/// test binary runs outside ctest.
inline std::string skip_reason() {
  static const std::string reason = [] {
    std::ifstream f(BS_PODMAN_PROBE_FILE);
    std::string line;
    if (f && std::getline(f, line)) return line == "ok" ? std::string() : line;
    std::string probe;
    try {
      auto r = podman({"run", "--rm", "--pull=never", image(), "true"});
      if (r.exit_code == 0) return std::string();
      if (r.err.data.find("image not known") != std::string::npos) {
        ADD_FAILURE() << "the test image " << image()
                      << " is missing: run `ctest -R podman_test_image` first";
        return std::string();
      }
      return "podman cannot run containers here: " + r.err.data;
    } catch (const std::exception& e) {
      return std::string("podman cannot be started: ") + e.what();
    }
  }();
  return reason;
}

/// Container-label values (bounded_subprocess.call=PID-XXXXXX) of every
/// container this test process started that podman still knows.
inline std::vector<std::string> my_containers() {
  // `podman ps -a` fails (125, "joining network namespace of container ...")
  // while another process's container is half torn down: other tests run
  // beside this one (ctest -j). That container is not ours; ask again.
  bs::Result r;
  for (int attempt = 0; attempt < 20; ++attempt) {
    r = podman({"ps", "-a", "--format", "{{index .Labels \"bounded_subprocess.call\"}}"});
    if (r.exit_code == 0 || r.err.data.find("network namespace") == std::string::npos) break;
    std::this_thread::sleep_for(250ms);
  }
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  std::vector<std::string> mine;
  std::istringstream lines(r.out.data);
  const std::string prefix = std::to_string(::getpid()) + "-";
  for (std::string l; std::getline(lines, l);)
    if (l.rfind(prefix, 0) == 0) mine.push_back(l);
  return mine;
}

/// Removes what a test's injected cleanup failure left behind, for the
/// fixture's checks.
inline void remove_my_containers() {
  for (const auto& label : my_containers()) {
    auto ids = podman({"ps", "-aq", "--filter", "label=bounded_subprocess.call=" + label});
    std::istringstream lines(ids.out.data);
    for (std::string id; std::getline(lines, id);)
      if (!id.empty()) podman({"rm", "-f", id});
  }
}

inline std::vector<std::string> dir_entries(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  return names;
}

/// A `podman` for Container::podman_path: podman itself, except that its
/// first `refusals` `rm` calls fail as podman 4.3's do under load (exit 2,
/// "device or resource busy", the container left as it was); a negative
/// count refuses every one. Counts the `rm` calls.
class RmRefusingPodman {
 public:
  explicit RmRefusingPodman(int refusals) {
    static int made = 0;
    path_ = std::string(BS_PODMAN_SCRATCH) + "/podman-rm-refuses-" + std::to_string(::getpid()) + "-" +
            std::to_string(++made);
    calls_ = path_ + ".rm-calls";
    std::filesystem::create_directories(BS_PODMAN_SCRATCH);
    std::filesystem::remove(calls_);
    {
      std::ofstream f(path_);
      f << "#!/bin/sh\n"
        << "if [ \"$1\" = rm ]; then\n"
        << "  echo rm >> '" << calls_ << "'\n"
        << "  n=$(wc -l < '" << calls_ << "')\n"
        << "  if [ " << refusals << " -lt 0 ] || [ \"$n\" -le " << refusals << " ]; then\n"
        << "    echo 'Error: injected: device or resource busy' >&2; exit 2\n"
        << "  fi\n"
        << "fi\n"
        << "exec podman \"$@\"\n";
    }
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
  }
  RmRefusingPodman(const RmRefusingPodman&) = delete;
  RmRefusingPodman& operator=(const RmRefusingPodman&) = delete;
  ~RmRefusingPodman() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
    std::filesystem::remove(calls_, ec);
  }

  const std::string& path() const { return path_; }
  int rm_calls() const {
    std::ifstream f(calls_);
    int n = 0;
    for (std::string line; std::getline(f, line);) ++n;
    return n;
  }

 private:
  std::string path_;
  std::string calls_;
};

/// The fixture: skips only when podman cannot run at all; gives each test a
/// private temp_dir (inside the build folder) and checks after the test that
/// it is empty, that no container of this process is left, and that no fd
/// or zombie leaked.
class PodmanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ::setenv("CONTAINERS_CONF", BS_PODMAN_CONTAINERS_CONF, 0); }

  void SetUp() override {
    const std::string reason = skip_reason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    std::filesystem::create_directories(BS_PODMAN_SCRATCH);
    std::string templ = std::string(BS_PODMAN_SCRATCH) + "/t-XXXXXX";
    ASSERT_NE(::mkdtemp(templ.data()), nullptr);
    temp_dir_ = templ;
    leaks_.emplace();
    checked_ = false;
  }

  void TearDown() override {
    if (temp_dir_.empty()) return;
    if (!checked_) expect_clean();
    std::filesystem::remove_all(temp_dir_);
  }

  /// The checks of TearDown, callable earlier (then not repeated).
  void expect_clean() {
    checked_ = true;
    EXPECT_TRUE(my_containers().empty()) << "a container of this test is left";
    EXPECT_TRUE(dir_entries(temp_dir_).empty()) << "cidfile or temp folder left in " << temp_dir_;
    leaks_->expect_clean();
  }

  /// The container and folder checks of expect_clean, for the middle of a
  /// test whose io_context (and its fds) is still alive.
  void expect_container_gone() {
    EXPECT_TRUE(my_containers().empty()) << "a container of this test is left";
    EXPECT_TRUE(dir_entries(temp_dir_).empty()) << "cidfile or temp folder left in " << temp_dir_;
  }

  /// Options every test starts from: the test image, a generous timeout, the
  /// private temp_dir.
  bs::Options options() const {
    bs::Options o;
    o.timeout = 60s;
    o.container = bs::Container{.image = image(), .temp_dir = temp_dir_};
    return o;
  }

  std::string temp_dir_;
  std::optional<bs_test::NoLeaks> leaks_;
  bool checked_ = false;
};

}  // namespace bs_podman_test
