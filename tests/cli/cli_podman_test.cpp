// bounded-run --podman: the podman options reach `podman run`. Real podman,
// with the offline test image that tests/podman builds (CTest fixture
// podman_image); skipped, with the reason, only when that image is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli_test_support.hpp"

#ifndef BS_PODMAN_IMAGE
#error "BS_PODMAN_IMAGE must be defined by the build"
#endif

namespace {

using cli_test::bounded_run;
namespace bs = bounded_subprocess;

class CliPodman : public ::testing::Test {
 protected:
  void SetUp() override {
    bs::Result exists = bs::run({"podman", "image", "exists", image()}, {.timeout = bs::Seconds(60.0)});
    if (exists.exit_code != 0) GTEST_SKIP() << "test image " << image() << " missing: " << exists;
    label_ = "bs-cli-test=" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }

  static std::string image(const char* tag = "latest") { return std::string(BS_PODMAN_IMAGE) + ":" + tag; }

  // bounded-run --podman IMAGE (labelled, so that leftovers can be found) ARGS...
  cli_test::Invocation podman_run(const std::string& img, std::vector<std::string> args) {
    args.insert(args.begin(), {"--podman", img, "--podman-arg", "--label=" + label_});
    return bounded_run(args);
  }

  void TearDown() override {
    if (label_.empty()) return;
    bs::Result left =
        bs::run({"podman", "ps", "-a", "-q", "--filter", "label=" + label_}, {.timeout = bs::Seconds(60.0)});
    EXPECT_EQ(left.exit_code, 0) << left;
    EXPECT_EQ(left.out.data, "") << "containers left behind";
    leaks_.expect_clean();
  }

  std::string label_;
  bs_test::NoLeaks leaks_;
};

TEST_F(CliPodman, EnvCwdAndVolumeReachTheContainer) {
  cli_test::TempFile file("from the host\n");
  ASSERT_EQ(::chmod(file.dir().c_str(), 0755), 0);
  auto inv = podman_run(
      image(), {"--json", "--timeout", "60", "--env", "BS_FOO=bar", "--volume", file.dir() + ":/mnt:ro",
                "--cwd", "/mnt", "--", "sh", "-c", "echo $BS_FOO; pwd; cat data"});
  EXPECT_EQ(inv.status, 0) << inv.err;
  auto j = cli_test::parse_json(inv);
  EXPECT_EQ(j.value("stdout", ""), "bar\n/mnt\nfrom the host\n") << j;
  EXPECT_EQ(j.value("exit_code", -99), 0);
}

TEST_F(CliPodman, EntrypointEmptyClearsTheImagesEntrypoint) {
  auto kept = podman_run(image("entrypoint"), {"--timeout", "60", "--", "hello"});
  EXPECT_EQ(kept.status, 0) << kept.err;
  EXPECT_EQ(kept.out, "entrypoint-says hello\n");
  auto cleared =
      podman_run(image("entrypoint"), {"--timeout", "60", "--entrypoint", "", "--", "echo", "cleared"});
  EXPECT_EQ(cleared.status, 0) << cleared.err;
  EXPECT_EQ(cleared.out, "cleared\n");
  // `--entrypoint=` is the same empty value; it must not swallow the program.
  auto attached = podman_run(image("entrypoint"), {"--timeout", "60", "--entrypoint=", "echo", "attached"});
  EXPECT_EQ(attached.status, 0) << attached.err;
  EXPECT_EQ(attached.out, "attached\n");
}

TEST_F(CliPodman, ExitStatusAndTimeout) {
  auto seven = podman_run(image(), {"--timeout", "60", "--", "sh", "-c", "exit 7"});
  EXPECT_EQ(seven.status, 7) << seven.err;
  auto late = podman_run(image(), {"--timeout", "3", "--", "sleep", "300"});
  EXPECT_EQ(late.status, 124) << late.err;
  EXPECT_LT(late.result.elapsed.count(), 60.0);  // generous: catches a hang only
}

// A container the cleanup cannot remove: bounded-run fails (status 125)
// with podman's own message, not an empty one. The failure is injected by a
// `podman` first in PATH that is the real one except that its `rm` refuses;
// the test then removes the container itself.
TEST_F(CliPodman, FailedCleanupIsReportedWithPodmansMessage) {
  bs::Result real = bs::run({"sh", "-c", "command -v podman"}, {.timeout = bs::Seconds(60.0)});
  ASSERT_EQ(real.exit_code, 0) << real;
  const std::string podman = real.out.data.substr(0, real.out.data.find('\n'));
  cli_test::TempFile wrapper(
      "#!/bin/sh\nif [ \"$1\" = rm ]; then echo 'injected: rm refused' >&2; exit 7; fi\n"
      "exec " +
      podman + " \"$@\"\n");
  const std::string bin = wrapper.dir() + "/bin";
  std::filesystem::create_directory(bin);
  std::filesystem::rename(wrapper.path(), bin + "/podman");
  std::filesystem::permissions(bin + "/podman", std::filesystem::perms::owner_all);
  bs::Environment env = bs::inherited_env();
  env["PATH"] = bin + ":" + env["PATH"];

  auto inv = bounded_run({"--podman", image(), "--podman-arg", "--label=" + label_, "--json", "--timeout",
                          "60", "--", "echo", "kept"},
                         {.env = env});
  EXPECT_EQ(inv.status, 125) << inv.out << inv.err;
  EXPECT_NE(inv.err.find("injected: rm refused"), std::string::npos) << inv.err;

  // What the injected failure left behind goes now, for TearDown's check.
  bs::Result ids =
      bs::run({"podman", "ps", "-aq", "--filter", "label=" + label_}, {.timeout = bs::Seconds(60.0)});
  std::istringstream lines(ids.out.data);
  for (std::string id; std::getline(lines, id);)
    if (!id.empty()) bs::run({"podman", "rm", "-f", id}, {.timeout = bs::Seconds(60.0)});
}

}  // namespace
