// `bounded-run batch` with container jobs beside local ones: a job names an
// image with "podman" and runs in it under the same bounds; nothing is left,
// neither processes nor containers. Real podman, with the offline test image
// of tests/podman (CTest fixture podman_image); skipped, with the reason,
// only when that image is missing. Not a subreaper (unlike the other batch
// tests): podman's conmon daemonizes and would be re-parented to the test.
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "batch_test_support.hpp"

#ifndef BS_PODMAN_IMAGE
#error "BS_PODMAN_IMAGE must be defined by the build"
#endif

namespace {

using batch_test::job;
using batch_test::json;
using bs_test::misbehave;
namespace bs = bounded_subprocess;

std::string image() {
  return std::string(BS_PODMAN_IMAGE) + ":latest";
}

TEST(BatchPodman, ContainerAndLocalJobsInOneBatch) {
  bs::Result exists = bs::run({"podman", "image", "exists", image()}, {.timeout = bs::Seconds(60.0)});
  if (exists.exit_code != 0) GTEST_SKIP() << "test image " << image() << " missing: " << exists;
  bs_test::NoLeaks leaks;
  const std::string label = "bs-batch-test=" + std::to_string(::getpid());
  batch_test::Workspace ws;
  const json container = {{"podman", image()}, {"podman_args", {"--pull=never", "--label=" + label}}};
  auto in_container = [&](json extra) {
    for (auto& [k, v] : container.items()) extra[k] = v;
    return extra;
  };
  ws.write_jobs({
      job("local", {misbehave(), "out-err", "local", ""}),
      job("c-echo", {"echo", "from the container"}, in_container(json::object())),
      job("c-exit", {"sh", "-c", "exit 7"}, in_container(json::object())),
      job("c-stdin", {"cat"}, in_container({{"stdin", "into the container"}})),
      job("c-env", {"sh", "-c", "echo $BS_VAR"}, in_container({{"env", {{"BS_VAR", "container env"}}}})),
      job("c-timeout", {"sleep", "300"}, in_container({{"timeout", 1}})),
      job("c-flood", {"sh", "-c", "yes | head -c 1000000"},
          in_container({{"timeout", 60}, {"max_output", 8}})),
      job("c-clear-env", {"true"}, in_container({{"clear_env", true}})),       // a local-only field
      job("local-volume", {"true"}, {{"volumes", {"/nonexistent/bs:/tmp"}}}),  // a host bind of nothing
      job("local-2", {misbehave(), "exit", "3"}),
  });
  auto run = batch_test::run_batch({ws.jobs(), "--parallel", "4", "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto r = batch_test::by_id(batch_test::parse_lines(run.out));
  ASSERT_EQ(r.size(), 10u) << run.out;
  EXPECT_EQ(r["local"]["stdout"], "local");
  EXPECT_EQ(r["c-echo"]["stdout"], "from the container\n") << r["c-echo"];
  EXPECT_EQ(r["c-exit"]["exit_code"], 7);
  EXPECT_EQ(r["c-stdin"]["stdout"], "into the container");
  EXPECT_EQ(r["c-env"]["stdout"], "container env\n");
  // Known podman 4.3 race, not the batch's: the library's `podman rm -f`
  // after the kill can meet the client's own --rm cleanup and fail with
  // "device or resource busy" (seen under load with containers in parallel;
  // reported to the lead). The batch must then report it as an error result,
  // and no container may be left (checked below).
  const bool cleanup_race =
      r["c-timeout"]["reason"] == "error" &&
      r["c-timeout"].value("error", "").find("device or resource busy") != std::string::npos;
  if (!cleanup_race) {
    EXPECT_EQ(r["c-timeout"]["reason"], "timeout") << r["c-timeout"];
  }
  EXPECT_EQ(r["c-flood"]["stdout"], "y\ny\ny\ny\n");
  EXPECT_EQ(r["c-flood"]["stdout_truncated"], true);
  EXPECT_EQ(r["c-clear-env"]["reason"], "error");
  EXPECT_EQ(r["local-volume"]["reason"], "error");
  EXPECT_EQ(r["local-2"]["exit_code"], 3);
  bs::Result left =
      bs::run({"podman", "ps", "-a", "-q", "--filter", "label=" + label}, {.timeout = bs::Seconds(60.0)});
  EXPECT_EQ(left.out.data, "") << "containers left behind";
  leaks.expect_clean();
}

TEST(BatchPodman, CommandLineContainerDefaultsApplyToContainerJobsOnly) {
  bs::Result exists = bs::run({"podman", "image", "exists", image()}, {.timeout = bs::Seconds(60.0)});
  if (exists.exit_code != 0) GTEST_SKIP() << "test image " << image() << " missing: " << exists;
  bs_test::NoLeaks leaks;
  batch_test::Workspace ws;
  // --podman-arg on the command line is for container jobs; a local job
  // (here one that sets "podman": null) ignores it.
  ws.write_jobs({job("c", {"echo", "in"}), job("l", {misbehave(), "exit", "0"}, {{"podman", nullptr}})});
  auto run = batch_test::run_batch({ws.jobs(), "--podman", image(), "--podman-arg", "--pull=never",
                                    "--memory-interval", "0.5", "--quiet"});
  EXPECT_EQ(run.status, 0) << run.err;
  auto r = batch_test::by_id(batch_test::parse_lines(run.out));
  EXPECT_EQ(r["c"]["stdout"], "in\n") << r["c"];
  EXPECT_EQ(r["l"]["exit_code"], 0) << r["l"];
  leaks.expect_clean();
}

}  // namespace
