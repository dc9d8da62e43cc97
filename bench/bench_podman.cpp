// Section for the container entry point: run of `true` in a container against a bare
// `podman run --rm -i IMAGE true`, and the time from a timeout to the
// container being gone.
//
// The image is the podman tests' image (BS_BENCH_PODMAN_IMAGE, overridable by
// the environment variable of the same name); CONTAINERS_CONF defaults to the
// tests' config (runc, ulimits within the hard limits). When podman cannot
// run a container here, the section prints why and measures nothing.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <poll.h>
#include <chrono>
#include <string>
#include <vector>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/run.hpp"
#include "sections.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace bsbench {
namespace {

std::string podman_image() {
  const char* env = ::getenv("BS_BENCH_PODMAN_IMAGE");
  return env != nullptr && *env != '\0' ? env : BS_BENCH_PODMAN_IMAGE;
}

// Exit status of a short podman command run bare (stdio to pipes, drained).
int podman_status(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"podman"};
  argv.insert(argv.end(), args.begin(), args.end());
  const int status = bare_run_drain(argv);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Milliseconds from `deadline` until the container NAME was gone. `done` is
// when the removal returned (run returned, or the bare `podman rm`
// did); if `podman container exists NAME` then says it is gone, that is the
// time (the check's own cost is not counted); if not, it is checked again
// every 20 ms (the bench may poll, the library may not) up to 30 s.
// Negative when it was still there after 30 s.
double gone_after_ms(const std::string& name, Clock::time_point deadline, Clock::time_point done) {
  auto since = [&](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(t - deadline).count();
  };
  if (podman_status({"container", "exists", name}) != 0) return since(done);
  const auto limit = Clock::now() + 30s;
  while (podman_status({"container", "exists", name}) == 0) {
    if (Clock::now() > limit) return -1.0;
    ::poll(nullptr, 0, 20);
  }
  return since(Clock::now());
}

std::string unique_name(const char* what, int round) {
  return std::string("bsbench-") + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(round);
}

}  // namespace

void section_podman() {
  ::setenv("CONTAINERS_CONF", BS_BENCH_CONTAINERS_CONF, 0);
  const std::string image = podman_image();
  // Probe: can podman run a container of the image at all?
  bs::Options probe_opts;
  probe_opts.timeout = 120s;
  const bs::Result probe = bs::run({"podman", "run", "--rm", "-i", image, "true"}, probe_opts);
  if (probe.exit_code != 0) {
    std::string why = probe.err.data.substr(0, 200);
    for (char& c : why) c = c == '\n' ? ' ' : c;
    note("podman: skipped: `podman run --rm -i " + image + " true` gave " + probe.str() + ": " + why +
         " (build the image with the podman tests' fixture first)");
    return;
  }

  const std::vector<std::string> floor_argv{"podman", "run", "--rm", "-i", image, "true"};
  auto lib = [&] {
    bs::Options o;
    o.timeout = 120s;
    o.container = bs::Container{.image = image};
    const auto t0 = Clock::now();
    const bs::Result r = bs::run({"true"}, o);
    const double ms = ms_since(t0);
    if (r.exit_code != 0) fail("run in a container(true): " + r.str() + " " + r.err.data);
    return ms;
  };
  auto floor = [&] {
    const auto t0 = Clock::now();
    const int status = bare_run_drain(floor_argv);
    const double ms = ms_since(t0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("bare podman run true failed");
    return ms;
  };
  // The library's two commands done bare: `podman run --rm -i --cidfile F
  // IMAGE true`, then the cleanup `podman rm -f --time 0 --ignore --cidfile F`
  // that the library runs after every call.
  auto floor_rm = [&] {
    char dir[] = "/tmp/bsbench-XXXXXX";
    if (::mkdtemp(dir) == nullptr) {
      fail("mkdtemp failed");
      return 0.0;
    }
    const std::string cid = std::string(dir) + "/cid";
    const auto t0 = Clock::now();
    const int status = bare_run_drain({"podman", "run", "--rm", "-i", "--cidfile", cid, image, "true"});
    const int rm = podman_status({"rm", "-f", "--time", "0", "--ignore", "--cidfile", cid});
    const double ms = ms_since(t0);
    ::unlink(cid.c_str());
    ::rmdir(dir);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || rm != 0) fail("bare podman run + rm failed");
    return ms;
  };
  const auto s = interleave(scaled(3), {lib, floor, floor_rm});
  const double a = median(s[0]), b = median(s[1]), with_rm = median(s[2]);
  figure("podman_true_ms", a, 1);
  figure("podman_true_floor_ms", b, 1);
  figure("podman_true_ratio", a / b);
  figure("podman_true_floor_with_rm_ms", with_rm, 1);
  figure("podman_true_with_rm_ratio", a / with_rm);
  goal("podman_true_ratio", a / b, 1.10);

  // Timeout to gone. The timeout is long enough for the container to be up
  // (podman start takes seconds on a loaded machine), so the kill and the
  // removal are of a running container. The floor: `podman run --rm -i
  // --name N IMAGE sleep 100`, at the deadline `podman rm -f --time 0 N`,
  // then SIGKILL the client and reap it.
  const auto timeout = 5s;
  int round = 0;
  auto lib_gone = [&] {
    const std::string name = unique_name("lib", ++round);
    bs::Options o;
    o.timeout = timeout;
    o.container = bs::Container{.image = image, .podman_args = {"--name", name}};
    const auto t0 = Clock::now();
    const bs::Result r = bs::run({"sleep", "100"}, o);
    const auto done = Clock::now();
    if (!r.timeout) fail("run in a container(sleep 100) did not time out: " + r.str());
    return gone_after_ms(name, t0 + timeout, done);
  };
  auto floor_gone = [&] {
    const std::string name = unique_name("bare", ++round);
    const auto t0 = Clock::now();
    BareChild c =
        bare_spawn({"podman", "run", "--rm", "-i", "--name", name, image, "sleep", "100"}, {.pidfd = true});
    pollfd p{c.pidfd, POLLIN, 0};
    const int waited = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(timeout).count()));
    if (waited != 0) fail("bare podman run sleep 100 ended early");
    podman_status({"rm", "-f", "--time", "0", "--ignore", name});
    ::kill(c.pid, SIGKILL);
    bare_close(c);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    return gone_after_ms(name, t0 + timeout, Clock::now());
  };
  const auto g = interleave(scaled(2), {lib_gone, floor_gone});
  for (double v : g[0]) {
    if (v < 0) fail("a timed-out container of run was still there 30 s later");
  }
  figure("podman_timeout_gone_median_ms", median(g[0]), 1);
  figure("podman_timeout_gone_worst_ms", worst(g[0]), 1);
  figure("podman_timeout_gone_floor_median_ms", median(g[1]), 1);
  goal("podman_timeout_gone_worst_ms", worst(g[0]), 2000.0);
}

}  // namespace bsbench
