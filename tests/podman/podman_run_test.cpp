// run in a container (Options::container) against real podman: every option reaches the container,
// the bounds hold, and nothing (container, cidfile, fd, zombie) is left.
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "podman_test_support.hpp"

namespace {

using namespace bs_podman_test;

TEST_F(PodmanTest, StdinIsEchoedByCat) {
  auto o = options();
  o.stdin_data = "hello\nworld\n";
  auto r = bs::run({"cat"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.reason, bs::EndReason::exited);
  EXPECT_FALSE(r.timeout);
  EXPECT_FALSE(r.stdin_write_failed);
  EXPECT_EQ(r.out.data, "hello\nworld\n");
}

TEST_F(PodmanTest, ExitCodeOfTheContainerIsReported) {
  auto r = bs::run({"sh", "-c", "echo out; echo err >&2; exit 7"}, options());
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.out.data, "out\n");
  EXPECT_EQ(r.err.data, "err\n");
}

TEST_F(PodmanTest, TimeoutKillsAndRemovesTheContainerWithinTheCleanupBound) {
  auto o = options();
  o.timeout = 10s;  // room for podman to start the container on a loaded machine
  const auto start = std::chrono::steady_clock::now();
  auto r = bs::run({"sh", "-c", "echo started; exec bs_misbehave sleep-forever"}, o);
  const auto gone_after = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timeout);
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_EQ(r.reason, bs::EndReason::timeout);
  EXPECT_EQ(r.out.data, "started\n") << "the container should have run before the deadline";
  // run returns once `podman rm` is done: the container is gone by then.
  EXPECT_TRUE(my_containers().empty());
  EXPECT_LT(std::chrono::duration<double>(gone_after).count(), 10.0 + 10.0)
      << "container not gone within cleanup_timeout (10 s) of the deadline";
}

TEST_F(PodmanTest, UnboundedOutputIsBounded) {
  auto o = options();
  o.max_output_size = 1000;
  auto r = bs::run({"bs_misbehave", "flood-out", "4000000"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_TRUE(r.out.truncated);
  EXPECT_EQ(r.out.total_bytes, 4000000u);
  EXPECT_EQ(r.out.data, bs_test::misbehave_pattern(0, 1000));

  o.tail = true;
  auto t = bs::run({"bs_misbehave", "flood-out", "4000000"}, o);
  EXPECT_EQ(t.exit_code, 0) << t.err.data;
  EXPECT_EQ(t.out.data, bs_test::misbehave_pattern(4000000 - 1000, 1000));
}

TEST_F(PodmanTest, EndlessOutputEndsAtTheDeadline) {
  auto o = options();
  o.timeout = 3s;
  o.max_output_size = 100;
  auto r = bs::run({"bs_misbehave", "flood-out", "forever"}, o);
  EXPECT_TRUE(r.timeout);
  // On a loaded machine podman may take the whole 3 s to start the
  // container, so how much was produced is not ours to assert; what was
  // kept is always the head of the flood, within the bound.
  EXPECT_EQ(r.out.data, bs_test::misbehave_pattern(0, std::min<std::uint64_t>(r.out.total_bytes, 100)));
  EXPECT_EQ(r.out.truncated, r.out.total_bytes > 100u);
  EXPECT_LT(r.elapsed.count(), 3.0 + 10.0);
}

TEST_F(PodmanTest, LargeStdinWhileOutputIsRead) {
  auto o = options();
  o.stdin_data = bs_test::misbehave_pattern(0, 1 << 20);
  o.max_output_size = 64;
  auto r = bs::run({"cat"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_FALSE(r.stdin_write_failed);
  EXPECT_EQ(r.out.total_bytes, 1u << 20);
  EXPECT_EQ(r.out.data, bs_test::misbehave_pattern(0, 64));
}

TEST_F(PodmanTest, VolumeIsMounted) {
  std::string data = std::string(BS_PODMAN_SCRATCH) + "/vol-XXXXXX";
  ASSERT_NE(::mkdtemp(data.data()), nullptr);
  std::ofstream(data + "/greeting.txt") << "hello from the host\n";
  auto o = options();
  o.container->volumes = {data + ":/data:ro"};
  auto r = bs::run({"cat", "/data/greeting.txt"}, o);
  std::filesystem::remove_all(data);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "hello from the host\n");
}

TEST_F(PodmanTest, CwdIsTheContainersWorkingDirectory) {
  auto o = options();
  o.cwd = "/tmp";
  auto r = bs::run({"bs_misbehave", "print-cwd"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "/tmp\n");
}

TEST_F(PodmanTest, EnvReachesTheContainerNotTheClient) {
  ::setenv("BS_PODMAN_HOST_ONLY", "host", 1);
  auto o = options();
  // Were CONTAINERS_CONF given to the podman client, it would fail to start.
  o.env = bs::Environment{{"CONTAINERS_CONF", "/nonexistent/containers.conf"},
                          {"BS_PODMAN_VAR", "in container = yes"}};
  auto r = bs::run({"sh", "-c", "echo \"$BS_PODMAN_VAR|$CONTAINERS_CONF|${BS_PODMAN_HOST_ONLY-unset}\""}, o);
  ::unsetenv("BS_PODMAN_HOST_ONLY");
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "in container = yes|/nonexistent/containers.conf|unset\n");
}

TEST_F(PodmanTest, EntrypointOfTheImageIsKeptWhenAbsent) {
  auto o = options();
  o.container->image = entrypoint_image();
  auto r = bs::run({"hello"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "entrypoint-says hello\n");
}

TEST_F(PodmanTest, EmptyEntrypointClearsTheImagesEntrypoint) {
  auto o = options();
  o.container->image = entrypoint_image();
  o.container->entrypoint = "";
  auto r = bs::run({"echo", "cleared"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "cleared\n");
}

TEST_F(PodmanTest, EntrypointIsSet) {
  auto o = options();
  o.container->entrypoint = "/bin/echo";
  auto r = bs::run({"set", "by", "option"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "set by option\n");
}

TEST_F(PodmanTest, MemoryLimitIsPassedToTheContainer) {
  auto o = options();
  o.container->cgroup_memory_limit_mb = 64;
  auto r = bs::run({"sh", "-c",
                    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null "
                    "|| cat /sys/fs/cgroup/memory.max"},
                   o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "67108864\n");
}

TEST_F(PodmanTest, FurtherPodmanArgsArePassed) {
  auto o = options();
  o.container->podman_args = {"--hostname=bs-test-host", "--network=none"};
  auto r = bs::run({"hostname"}, o);
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data, "bs-test-host\n");
}

TEST_F(PodmanTest, MissingImageIsReportedAsPodmansError) {
  auto o = options();
  o.container->image = "localhost/bounded-subprocess-no-such-image:latest";
  o.container->podman_args = {"--pull=never"};
  auto r = bs::run({"true"}, o);
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_FALSE(r.timeout);
  EXPECT_NE(r.err.data.find("bounded-subprocess-no-such-image"), std::string::npos) << r.err.data;
}

TEST_F(PodmanTest, CommandMissingInTheContainerIsExitCode127) {
  auto r = bs::run({"/no/such/program"}, options());
  EXPECT_EQ(r.exit_code, 127);
  EXPECT_FALSE(r.err.data.empty());
}

TEST_F(PodmanTest, BadInputThrowsBeforeAnythingIsCreated) {
  auto o = options();
  EXPECT_THROW(bs::run({}, o), std::invalid_argument);
  o.container->image = "";
  EXPECT_THROW(bs::run({"true"}, o), std::invalid_argument);
  o = options();
  o.container->volumes = {""};
  EXPECT_THROW(bs::run({"true"}, o), std::invalid_argument);
  o = options();
  o.timeout = 0s;
  EXPECT_THROW(bs::run({"true"}, o), std::invalid_argument);
  o = options();
  o.container->cgroup_memory_limit_mb = 0;
  EXPECT_THROW(bs::run({"true"}, o), std::invalid_argument);
  o = options();
  o.env = bs::Environment{{"A=B", "c"}};
  EXPECT_THROW(bs::run({"true"}, o), std::invalid_argument);
  o = options();
  EXPECT_THROW(bs::run({std::string("a\0b", 3)}, o), std::invalid_argument);
}

TEST_F(PodmanTest, MissingPodmanBinaryIsASystemErrorNamingIt) {
  auto o = options();
  o.container->podman_path = "/nonexistent/bin/podman-missing";
  try {
    bs::run({"true"}, o);
    ADD_FAILURE() << "no exception";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("podman-missing"), std::string::npos) << e.what();
  }
}

TEST_F(PodmanTest, CidfileLivesInAPrivateFolderUnderTmpdir) {
  // No temp_dir: the folder is made under $TMPDIR. Mount that folder to see
  // it from inside while the call runs.
  auto o = options();
  o.container->temp_dir.reset();
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", temp_dir_.c_str(), 1);
  o.container->volumes = {temp_dir_ + ":/scratch:ro"};
  auto r = bs::run({"sh", "-c", "ls /scratch; ls /scratch/*"}, o);
  if (old)
    ::setenv("TMPDIR", saved.c_str(), 1);
  else
    ::unsetenv("TMPDIR");
  EXPECT_EQ(r.exit_code, 0) << r.err.data;
  EXPECT_EQ(r.out.data.rfind("bounded-subprocess-podman-", 0), 0u) << r.out.data;
  EXPECT_NE(r.out.data.find("\ncid\n"), std::string::npos) << r.out.data;
  // TearDown checks the folder is empty again.
}

// One refused `podman rm` (podman 4.3 under load) is tried again; two are
// a failed cleanup, with podman's message.
TEST_F(PodmanTest, OneRefusedCleanupIsTriedAgainTwoAreAnError) {
  {
    RmRefusingPodman refuses_once(1);
    auto o = options();
    o.container->podman_path = refuses_once.path();
    const bs::Result r = bs::run({"echo", "kept"}, o);
    EXPECT_EQ(r.exit_code, 0) << r.err.data;
    EXPECT_EQ(r.out.data, "kept\n");
    EXPECT_EQ(refuses_once.rm_calls(), 2);
    expect_container_gone();
  }
  RmRefusingPodman refuses(-1);
  auto o = options();
  o.container->podman_path = refuses.path();
  // The failure comes with the Result, as async_run delivers both.
  const bs::Result failed = bs::run({"echo", "kept"}, o);
  EXPECT_NE(failed.cleanup_error.find("injected: device or resource busy"), std::string::npos)
      << "a cleanup refused twice was not reported: " << failed.cleanup_error;
  EXPECT_EQ(failed.out.data, "kept\n");
  EXPECT_EQ(refuses.rm_calls(), 2);
  remove_my_containers();
}

TEST_F(PodmanTest, ManyThreadsAtOnce) {
  constexpr int kThreads = 3;
  std::vector<bs::Result> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto o = options();
      o.stdin_data = "thread " + std::to_string(i) + "\n";
      results[i] = bs::run({"cat"}, o);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_EQ(results[i].exit_code, 0) << results[i].err.data;
    EXPECT_EQ(results[i].out.data, "thread " + std::to_string(i) + "\n");
  }
}

}  // namespace
