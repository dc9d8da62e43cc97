// Isolation (Options::isolation): each protection against what it must stop,
// with the same call without it as the control, through every face; bad
// input before anything starts; what the machine lacks as an error. Run as
// root and, by isolation.unprivileged, as nobody.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bounded_subprocess/async.hpp>
#include <bounded_subprocess/async_interactive.hpp>
#include <bounded_subprocess/interactive.hpp>
#include <bounded_subprocess/run.hpp>
#include <bounded_subprocess/spawn_error.hpp>
#include <bounded_subprocess/stream.hpp>

#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "cgroup_folders.hpp"
#include "forked.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace {

const std::string kProbe = BS_ISOLATION_PROBE_PATH;

bool root() {
  return ::geteuid() == 0;
}

bool isolation_offered() {
  return bs::containment_available(bs::Containment::pid_namespace);
}

#define REQUIRE_ISOLATION() \
  if (!isolation_offered()) GTEST_SKIP() << "no PID namespace here: isolation is an error (tested below)"

std::vector<std::string> probe(std::initializer_list<std::string> args) {
  std::vector<std::string> v{kProbe};
  v.insert(v.end(), args);
  return v;
}

// A listener on the host's 127.0.0.1.
class Listener {
 public:
  Listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("listen");
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { ::close(fd_); }
  std::string port() const { return std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A folder of the test's own, writable by its user, on the host's /tmp.
class TempDir {
 public:
  TempDir() {
    char name[] = "/tmp/bs_isolation_XXXXXX";
    if (::mkdtemp(name) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = name;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bs::Options isolated(bs::Isolation i) {
  return {.timeout = 30s, .isolation = std::move(i)};
}

// The folders bounded_subprocess.PID.* in `dir` (cgroups of this process's runs).
std::vector<std::string> run_cgroups(const std::string& dir) {
  return cgroups_of(dir, ::getpid());
}

// A first isolated run with limits: a process never keeps the v1 limit
// cgroups of its first (one that makes a single run pays nothing for them).
void first_run_with_limits() {
  const bs::Result r = bs::run({"true"}, {.timeout = 30s, .isolation = bs::Isolation{.pids_limit = 64}});
  ASSERT_EQ(r.exit_code, 0) << r;
}

// This process's own cgroup of a v1 controller ("" where there is none).
std::string own_v1_cgroup(const std::string& controller) {
  std::ifstream f("/proc/self/cgroup");
  for (std::string line; std::getline(f, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (line.substr(a + 1, b - a - 1) == controller) {
      const std::string dir = "/sys/fs/cgroup/" + controller + line.substr(b + 1);
      return exists(dir) ? dir : "";
    }
  }
  return "";
}

// --- network ---------------------------------------------------------------

TEST(Network, NoneCannotReachTheHostsLoopback) {
  REQUIRE_ISOLATION();
  Listener host;
  const bs::Result open = bs::run(probe({"connect", host.port()}), {.timeout = 30s});
  ASSERT_EQ(open.exit_code, 0) << "the control: without isolation the host's listener is reachable\n" << open;
  const bs::Result r = bs::run(probe({"connect", host.port()}), isolated({.network = bs::Network::none}));
  EXPECT_EQ(r.exit_code, 1) << r << r.out.data;
  EXPECT_NE(r.out.data.find("refused"), std::string::npos) << r.out.data;
}

TEST(Network, NoneHasItsOwnLoopback) {
  REQUIRE_ISOLATION();
  const bs::Result r = bs::run(probe({"self-loopback"}), isolated({.network = bs::Network::none}));
  EXPECT_EQ(r.exit_code, 0) << r << r.out.data;
}

TEST(Network, HostIsTheHostsNetwork) {
  REQUIRE_ISOLATION();
  Listener host;
  const bs::Result r = bs::run(probe({"connect", host.port()}), isolated({.network = bs::Network::host}));
  EXPECT_EQ(r.exit_code, 0) << r << r.out.data;
}

// Every face honours it.
TEST(Network, EveryFace) {
  REQUIRE_ISOLATION();
  Listener host;
  const bs::Options o = isolated({.network = bs::Network::none});
  const auto argv = probe({"connect", host.port()});
  {
    asio::io_context io;
    auto f = bs::async_run(io, argv, o, asio::use_future);
    io.run();
    EXPECT_EQ(f.get().exit_code, 1) << "async_run";
  }
  {
    std::vector<std::string> lines;
    bs::Options so = o;
    const bs::Result r = bs::run_stream_lines(argv, so, [&](std::string_view l) {
      lines.emplace_back(l);
      return true;
    });
    ASSERT_EQ(lines.size(), 1u) << r;
    EXPECT_EQ(lines[0].rfind("refused", 0), 0u) << "run_stream_lines: " << lines[0];
  }
  {
    bs::Interactive child(argv, {.isolation = o.isolation});
    const auto line = child.read_line(20s);
    ASSERT_TRUE(line.has_value());
    EXPECT_EQ(line->rfind("refused", 0), 0u) << "Interactive: " << *line;
    EXPECT_EQ(child.close(5s), 1);
  }
  {
    asio::io_context io;
    bs::AsyncInteractive child(io, argv, {.isolation = o.isolation});
    auto line = child.async_read_line(20s, asio::use_future);
    io.run();
    const std::string got = line.get();
    EXPECT_EQ(got.rfind("refused", 0), 0u) << "AsyncInteractive: " << got;
  }
}

// --- files -----------------------------------------------------------------

TEST(ReadOnly, NothingOutsideTheScratchCanBeWritten) {
  REQUIRE_ISOLATION();
  TempDir dir;
  { std::ofstream(dir / "existing") << "host"; }
  const bs::Result control = bs::run(probe({"create", dir / "control"}), {.timeout = 30s});
  ASSERT_EQ(control.exit_code, 0) << "the control: the host's user may write there\n" << control;
  ASSERT_TRUE(exists(dir / "control"));

  const bs::Options o = isolated({.read_only = true});
  const bs::Result created = bs::run(probe({"create", dir / "new"}), o);
  EXPECT_EQ(created.exit_code, 1) << created << created.out.data;
  EXPECT_NE(created.out.data.find("failed " + std::to_string(EROFS)), std::string::npos) << created.out.data;
  EXPECT_FALSE(exists(dir / "new"));
  const bs::Result changed = bs::run(probe({"create", dir / "existing"}), o);
  EXPECT_EQ(changed.exit_code, 1) << changed << changed.out.data;
  std::ifstream f(dir / "existing");
  std::string content;
  f >> content;
  EXPECT_EQ(content, "host");
  // /dev/null stays writable (a device, not a file of the view).
  EXPECT_EQ(bs::run(probe({"create", "/dev/null"}), o).exit_code, 0);
}

TEST(Scratch, WritableAndPrivateToOneRun) {
  REQUIRE_ISOLATION();
  const bs::Options o = isolated({.read_only = true, .scratch_mb = 8});
  const std::string inside = "/tmp/bs_isolation_scratch_" + std::to_string(::getpid());
  const bs::Result first = bs::run({"/bin/sh", "-c", kProbe + " create " + inside + " && ls " + inside}, o);
  EXPECT_EQ(first.exit_code, 0) << first << first.err.data;
  EXPECT_FALSE(exists(inside)) << "the scratch reached the host's /tmp";
  const bs::Result second = bs::run({"/bin/sh", "-c", "ls " + inside}, o);
  EXPECT_NE(second.exit_code, 0) << "the next run saw the scratch of the first: " << second.out.data;
  const bs::Result tmpdir = bs::run({"/bin/sh", "-c", "echo $TMPDIR"}, o);
  EXPECT_EQ(tmpdir.out.data, "/tmp\n");
}

TEST(Scratch, AFillerStopsAtItsSize) {
  REQUIRE_ISOLATION();
  const bs::Result r =
      bs::run(probe({"fill", "/tmp/filler"}), isolated({.read_only = true, .scratch_mb = 4}));
  ASSERT_EQ(r.exit_code, 0) << r;
  unsigned long long wrote = 0;
  int err = 0;
  ASSERT_EQ(std::sscanf(r.out.data.c_str(), "wrote %llu errno %d", &wrote, &err), 2) << r.out.data;
  EXPECT_EQ(err, ENOSPC);
  EXPECT_LE(wrote, 4ull << 20);
  EXPECT_GT(wrote, 1ull << 20);
  EXPECT_TRUE(r.limits_hit.scratch) << r;
}

// A warm sandbox serves its isolated runs a view made ahead and used again
// (mount_views.hpp) only while no run changed it. Several runs first, so
// that the ones after enter views (a process's first runs make none).
void warm_up_views(const bs::Options& o) {
  for (int i = 0; i < 5; ++i) {
    const bs::Result r = bs::run({"true"}, o);
    ASSERT_EQ(r.exit_code, 0) << r;
  }
}

std::string run_out(const std::string& script, const bs::Options& o) {
  const bs::Result r = bs::run({"/bin/sh", "-c", script}, o);
  EXPECT_EQ(r.exit_code, 0) << script << ": " << r << r.err.data;
  return r.out.data;
}

TEST(Scratch, NothingOfARunReachesTheNextThroughItsView) {
  REQUIRE_ISOLATION();
  const bs::Options o = isolated({.read_only = true, .scratch_mb = 8});
  warm_up_views(o);
  // A file made and removed again leaves the folder as it was, but not the
  // tmpfs: its next file has the next inode number. In a fresh scratch,
  // the first file's is always the same.
  const std::string script = "touch /tmp/f && stat -c %i /tmp/f && rm /tmp/f";
  const std::string first = run_out(script, o);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(run_out(script, o), first) << "a run got the scratch of the one before";
  // Its mode, changed by a root program (CAP_FOWNER), is not passed on.
  run_out("chmod 700 /tmp", o);
  EXPECT_EQ(run_out("stat -c %a /tmp", o), "1777\n");
  EXPECT_EQ(run_out("ls -A /tmp", o), "");
}

// The host's cwd is found again in the run's view; under /tmp, where the
// scratch goes, it is still the host's folder.
TEST(Scratch, TheHostsCwdUnderTmpStaysTheHostsFolder) {
  REQUIRE_ISOLATION();
  TempDir dir;
  { std::ofstream(dir / "host-file") << "x"; }
  const auto before = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  const bs::Options o = isolated({.read_only = true, .scratch_mb = 8});
  for (int i = 0; i < 6; ++i) EXPECT_EQ(run_out("pwd && ls", o), dir.path() + "\nhost-file\n") << "run " << i;
  std::filesystem::current_path(before);
}

// The fds of this process that are mount namespaces or inotify instances
// (what views hold).
int view_fds() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(e.path(), ec).string();
    if (target.rfind("mnt:[", 0) == 0 || target == "anon_inode:inotify") ++n;
  }
  return n;
}

// A child of fork() (its parent's maker thread is not there, and may have
// held its lock) makes views of its own, and keeps none of its parent's.
TEST(Scratch, AChildOfForkMakesItsOwnViews) {
  REQUIRE_ISOLATION();
  bs::drop_warm_sandboxes();
  const int before = view_fds();
  const bs::Options o = isolated({.read_only = true, .scratch_mb = 8});
  warm_up_views(o);
  const std::string text = bs_test::in_forked_child([&] {
    std::string runs;
    for (int i = 0; i < 6; ++i) {
      const bs::Result r = bs::run({"/bin/sh", "-c", "ls -A /tmp; touch /tmp/mine"}, o);
      runs += r.exit_code == 0 ? r.out.data : "exit " + std::to_string(r.exit_code) + " ";
    }
    bs::drop_warm_sandboxes();
    return runs + "left " + std::to_string(view_fds() - before);
  });
  EXPECT_EQ(text, "left 0") << "every run of the child finds an empty scratch, and the child keeps no fd of "
                               "its parent's views after drop_warm_sandboxes";
  // The parent's views still serve it.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(run_out("ls -A /tmp; touch /tmp/mine", o), "");
  bs::drop_warm_sandboxes();
  EXPECT_EQ(view_fds(), before) << "drop_warm_sandboxes left a view's fd";
}

// A view is a copy of the mounts of its time, made read-only then: a mount
// that reaches it later (propagated from the host's) would be writable
// there. Such a view is not used. The host here is a child of fork in a
// mount namespace of its own: its shared mount must reach no other
// process's sandboxes (their mounts changing would retire them).
TEST(ReadOnly, AMountPropagatedAfterAViewWasMadeIsReadOnlyToo) {
  REQUIRE_ISOLATION();
  if (!root()) GTEST_SKIP() << "views are made for root's runs, and only root mounts here";
  TempDir dir;
  const std::string later = dir / "later";
  const std::string text = bs_test::in_forked_child([&]() -> std::string {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      return std::string("a mount namespace of its own: ") + std::strerror(errno);
    if (::mount("bs-shared", dir.path().c_str(), "tmpfs", 0, "size=1m") != 0 ||
        ::mount(nullptr, dir.path().c_str(), nullptr, MS_SHARED, nullptr) != 0)
      return std::string("a shared tmpfs: ") + std::strerror(errno);
    // The sandboxes made after it see it; their copies are its slaves.
    const bs::Options o = isolated({.read_only = true});
    for (int i = 0; i < 5; ++i)
      if (bs::run({"true"}, o).exit_code != 0) return "a warm-up run failed";
    if (::mkdir(later.c_str(), 0755) != 0 || ::mount("bs-later", later.c_str(), "tmpfs", 0, "size=1m") != 0)
      return std::string("the later mount: ") + std::strerror(errno);
    const bs::Result r = bs::run(probe({"create", later + "/new"}), o);
    return "exit " + std::to_string(r.exit_code) + ", " + r.out.data +
           (exists(later + "/new") ? "created" : "");
  });
  EXPECT_EQ(text, "exit 1, failed " + std::to_string(EROFS) + "\n");
}

TEST(Volumes, WritableReadOnlyAndMissing) {
  REQUIRE_ISOLATION();
  TempDir rw, ro;
  { std::ofstream(ro / "data") << "ro-data"; }
  bs::Isolation i{.read_only = true,
                  .scratch_mb = 4,
                  .volumes = {{.source = rw.path(), .target = "/tmp/out"},
                              {.source = ro.path(), .target = "/tmp/in", .read_only = true}}};
  const bs::Result w = bs::run(probe({"create", "/tmp/out/result"}), isolated(i));
  EXPECT_EQ(w.exit_code, 0) << w << w.out.data;
  EXPECT_TRUE(exists(rw / "result")) << "a write to a writable volume reaches the host";
  const bs::Result r = bs::run(probe({"read", "/tmp/in/data"}), isolated(i));
  EXPECT_EQ(r.out.data, "ro-data");
  const bs::Result denied = bs::run(probe({"create", "/tmp/in/new"}), isolated(i));
  EXPECT_EQ(denied.exit_code, 1) << denied;
  EXPECT_FALSE(exists(ro / "new"));

  bs::Isolation missing = i;
  missing.volumes[0].source = rw.path() + "/does-not-exist";
  EXPECT_THROW(bs::run(probe({"sleep"}), isolated(missing)), std::invalid_argument);
}

// --- limits ----------------------------------------------------------------

TEST(Limits, BadValuesAreErrorsBeforeAnythingStarts) {
  const auto argv = probe({"sleep"});
  for (bs::Isolation i :
       {bs::Isolation{.scratch_mb = 0}, bs::Isolation{.pids_limit = 0},
        bs::Isolation{.pids_limit = 1ull << 40}, bs::Isolation{.memory_limit_mb = 0},
        bs::Isolation{.file_size_limit_mb = 0}, bs::Isolation{.file_size_limit_mb = 1ull << 50},
        bs::Isolation{.cpu_limit = bs::Seconds(-1)},
        bs::Isolation{.volumes = {{.source = "relative", .target = "/tmp"}}}}) {
    EXPECT_THROW(bs::run(argv, isolated(i)), std::invalid_argument);
  }
  for (const std::string controller : {"pids", "memory"})
    if (root()) {
      EXPECT_TRUE(run_cgroups(own_v1_cgroup(controller)).empty()) << controller;
    }
}

TEST(Limits, IsolationNeedsANamespaceMechanism) {
  for (bs::Containment c : {bs::Containment::process_group, bs::Containment::subreaper}) {
    try {
      bs::run(probe({"sleep"}),
              {.timeout = 5s, .containment = c, .isolation = bs::Isolation{.read_only = true}});
      ADD_FAILURE() << "isolation ran under " << c;
    } catch (const bs::SpawnError& e) {
      EXPECT_NE(std::string(e.what()).find("isolation needs"), std::string::npos) << e.what();
    }
  }
}

TEST(Limits, NoNewPrivsAndNoAdminCapability) {
  REQUIRE_ISOLATION();
  const bs::Result nnp = bs::run(probe({"status", "NoNewPrivs"}), isolated({.read_only = true}));
  EXPECT_EQ(nnp.out.data, "1\n") << nnp;
  const bs::Result control = bs::run(probe({"status", "NoNewPrivs"}), {.timeout = 30s});
  EXPECT_EQ(control.out.data, "0\n") << control;
  const bs::Result caps = bs::run(probe({"status", "CapEff"}), isolated({.read_only = true}));
  const unsigned long long eff = std::strtoull(caps.out.data.c_str(), nullptr, 16);
  EXPECT_EQ(eff & (1ull << 21), 0u) << "CAP_SYS_ADMIN kept: " << caps.out.data;
  EXPECT_EQ(eff & (1ull << 12), 0u) << "CAP_NET_ADMIN kept: " << caps.out.data;
}

TEST(Limits, FileSize) {
  REQUIRE_ISOLATION();
  bs::Isolation i{.scratch_mb = 16, .file_size_limit_mb = 1};
  const bs::Result r = bs::run(probe({"write-mb", "/tmp/big", "4"}), isolated(i));
  EXPECT_EQ(r.reason, bs::EndReason::signaled) << r;
  EXPECT_EQ(r.term_signal, SIGXFSZ) << r;
  EXPECT_TRUE(r.limits_hit.file_size) << r;
  i.file_size_limit_mb.reset();
  const bs::Result control = bs::run(probe({"write-mb", "/tmp/big", "4"}), isolated(i));
  EXPECT_EQ(control.exit_code, 0) << control;
  EXPECT_FALSE(control.limits_hit.file_size);
}

// The interactive entry points report the limits too, once the child is
// reaped: a write past the file size limit kills the writer (SIGXFSZ).
TEST(Limits, InteractiveEntryPointsReportTheLimitsHit) {
  REQUIRE_ISOLATION();
  for (const bool limited : {true, false}) {
    SCOPED_TRACE(limited ? "limited" : "control");
    bs::Isolation i{.scratch_mb = 16};
    if (limited) i.file_size_limit_mb = 1;
    const auto argv = probe({"write-mb", "/tmp/big", "4"});
    {
      bs::Interactive child(argv, {.isolation = i});
      EXPECT_FALSE(child.limits_hit().has_value()) << "known before the end";
      while (child.read_line(20s)) {  // until EOF: the writer is done, or killed
      }
      const int code = child.close(20s);
      ASSERT_TRUE(child.limits_hit().has_value());
      EXPECT_EQ(child.limits_hit()->file_size, limited) << "Interactive, code " << code;
      EXPECT_EQ(code, limited ? -SIGXFSZ : 0);
    }
    {
      asio::io_context io;
      bs::AsyncInteractive child(io, argv, {.isolation = i});
      EXPECT_FALSE(child.limits_hit().has_value()) << "known before the end";
      std::function<void()> read_to_eof = [&] {
        child.async_read_line(20s, [&](std::error_code ec, std::string) {
          if (!ec) read_to_eof();
        });
      };
      read_to_eof();
      io.run();
      io.restart();
      auto code = child.async_close(20s, asio::use_future);
      io.run();
      EXPECT_EQ(code.get(), limited ? -SIGXFSZ : 0);
      ASSERT_TRUE(child.limits_hit().has_value());
      EXPECT_EQ(child.limits_hit()->file_size, limited) << "AsyncInteractive";
    }
  }
}

TEST(Limits, PidsLimitRefusesForks) {
  REQUIRE_ISOLATION();
  const bs::Result r =
      bs::run(probe({"fork", "50"}), {.timeout = 3s, .isolation = bs::Isolation{.pids_limit = 8}});
  int forked = -1, err = -1;
  ASSERT_EQ(std::sscanf(r.out.data.c_str(), "forked %d errno %d", &forked, &err), 2) << r << r.out.data;
  EXPECT_LT(forked, 8) << r.out.data;
  EXPECT_EQ(err, EAGAIN) << r.out.data;
  if (root()) {
    EXPECT_TRUE(r.limits_hit.pids) << r;  // the RLIMIT_NPROC fallback is not counted
  }
  const bs::Result control = bs::run(probe({"fork", "20"}), {.timeout = 3s, .isolation = bs::Isolation{}});
  EXPECT_NE(control.out.data.find("forked 20 errno 0"), std::string::npos) << control.out.data;
}

// A fork bomb: only as nobody (the unprivileged run of this suite, under
// prlimit --nproc as a backstop), never as root.
TEST(Limits, ForkBombStopsAtThePidsLimit) {
  REQUIRE_ISOLATION();
  if (root()) GTEST_SKIP() << "fork storms run only as nobody (isolation.unprivileged)";
  const auto start = std::chrono::steady_clock::now();
  const bs::Result r =
      bs::run(probe({"fork-bomb"}), {.timeout = 3s, .isolation = bs::Isolation{.pids_limit = 32}});
  EXPECT_TRUE(r.timeout) << r;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s) << "the host did not stay responsive";
  // Nothing of it is alive: the same user can fork again at once.
  const bs::Result after = bs::run(probe({"fork", "20"}), {.timeout = 3s, .isolation = bs::Isolation{}});
  EXPECT_NE(after.out.data.find("forked 20 errno 0"), std::string::npos) << after.out.data;
}

TEST(Limits, CpuLimitOfTheWholeRun) {
  if (!bs::containment_available(bs::Containment::cgroup)) {
    try {
      bs::run(probe({"spin", "1"}), isolated({.cpu_limit = bs::Seconds(0.3)}));
      ADD_FAILURE() << "a CPU limit without the run's own cgroup ran";
    } catch (const bs::SpawnError& e) {
      EXPECT_NE(std::string(e.what()).find("cpu_limit"), std::string::npos) << e.what();
    }
    return;
  }
  const bs::Result r = bs::run(probe({"spin", "2"}), isolated({.cpu_limit = bs::Seconds(0.5)}));
  EXPECT_EQ(r.reason, bs::EndReason::cpu_limit) << r;
  EXPECT_EQ(r.exit_code, -1);
  EXPECT_TRUE(r.limits_hit.cpu);
  const auto used = r.usage.user_cpu + r.usage.system_cpu;
  EXPECT_GE(used, 450ms) << r;
  EXPECT_LT(used, 5s) << r;
  const bs::Result control = bs::run(probe({"spin", "1"}), {.timeout = 1s, .isolation = bs::Isolation{}});
  EXPECT_EQ(control.reason, bs::EndReason::timeout) << control;
}

TEST(Limits, KernelMemoryLimit) {
  REQUIRE_ISOLATION();
  if (!bs::kernel_memory_limit_available()) {
    try {
      bs::run(probe({"sleep"}), isolated({.memory_limit_mb = 64}));
      ADD_FAILURE() << "a kernel memory limit without a memory cgroup ran";
    } catch (const bs::SpawnError& e) {
      EXPECT_NE(std::string(e.what()).find("memory_limit_mb"), std::string::npos) << e.what();
    }
    return;
  }
  // The limit is set (read back from the run's memory cgroup while it runs).
  const std::string parent = own_v1_cgroup("memory");
  bs::drop_warm_sandboxes();  // no cgroup kept by an earlier test's run
  {
    bs::Interactive child(probe({"alloc-mb", "8"}), {.isolation = bs::Isolation{.memory_limit_mb = 64}});
    ASSERT_EQ(child.read_line(20s).value_or(""), "allocated");
    const auto groups = run_cgroups(parent);
    ASSERT_EQ(groups.size(), 1u);
    std::ifstream limit(groups[0] + "/memory.limit_in_bytes");
    unsigned long long bytes = 0;
    limit >> bytes;
    EXPECT_EQ(bytes, 64ull << 20);
    std::ifstream usage(groups[0] + "/memory.usage_in_bytes");
    unsigned long long used = 0;
    usage >> used;
    child.close(1s);
    bs::drop_warm_sandboxes();  // what the process keeps for the next runs
    EXPECT_TRUE(run_cgroups(parent).empty()) << "the run's memory cgroup was left behind";
    if (used == 0)
      GTEST_SKIP()
          << "the limit is set and removed, but this machine's memory cgroup accounts no usage "
             "(memory.usage_in_bytes is 0 with 8 MiB touched), so the kernel's kill cannot be seen here";
  }
  const bs::Result r = bs::run(probe({"alloc-mb", "512"}), isolated({.memory_limit_mb = 64}));
  EXPECT_EQ(r.reason, bs::EndReason::memory_limit) << r;
  EXPECT_EQ(r.memory_enforcer, bs::MemoryEnforcer::kernel);
  EXPECT_LE(r.usage.max_rss_kb, 64u * 1024 + 4096) << r;
}

// This process's cgroup of a v1 controller where its runs' limits use v1
// cgroups (root, with that v1 hierarchy), none of them kept yet (a first
// run made, what the process kept dropped); "" elsewhere.
std::string v1_parent_with_none_kept(const std::string& controller) {
  const std::string parent = own_v1_cgroup(controller);
  if (!root() || parent.empty() || (controller == "memory" && !bs::kernel_memory_limit_available()))
    return "";
  first_run_with_limits();
  bs::drop_warm_sandboxes();
  return parent;
}

// A v1 limit cgroup (root on a hybrid host) is kept for the next run once
// its run is over: the next run's limit is its own, and so is its count.
TEST(Limits, AKeptPidsCgroupServesTheNextRunAsNew) {
  REQUIRE_ISOLATION();
  const std::string parent = v1_parent_with_none_kept("pids");
  if (parent.empty()) GTEST_SKIP() << "v1 limit cgroups are root's, on a host with a v1 pids hierarchy";
  ASSERT_TRUE(run_cgroups(parent).empty());
  auto forks = [](int n, std::size_t limit) {
    const bs::Result r = bs::run(probe({"fork", std::to_string(n)}),
                                 {.timeout = 3s, .isolation = bs::Isolation{.pids_limit = limit}});
    int forked = -1, err = -1;
    EXPECT_EQ(std::sscanf(r.out.data.c_str(), "forked %d errno %d", &forked, &err), 2) << r << r.out.data;
    return std::make_pair(r, forked);
  };
  const auto [a, a_forked] = forks(50, 8);
  EXPECT_LT(a_forked, 8);
  EXPECT_TRUE(a.limits_hit.pids) << a;
  const auto kept = run_cgroups(parent);
  ASSERT_EQ(kept.size(), 1u) << "the run's pids cgroup was not kept";
  const auto [b, b_forked] = forks(3, 8);
  EXPECT_EQ(b_forked, 3);
  EXPECT_FALSE(b.limits_hit.pids) << "the count of the run before reached this one: " << b;
  EXPECT_EQ(run_cgroups(parent), kept) << "the kept cgroup was not used";
  const auto [c, c_forked] = forks(20, 4);
  EXPECT_LT(c_forked, 4) << "the limit of the run before held";
  EXPECT_TRUE(c.limits_hit.pids) << c;
  EXPECT_EQ(run_cgroups(parent), kept);
  bs::drop_warm_sandboxes();
  EXPECT_TRUE(run_cgroups(parent).empty()) << "drop_warm_sandboxes() left a kept cgroup";
}

TEST(Limits, AKeptMemoryCgroupServesTheNextRunAsNew) {
  REQUIRE_ISOLATION();
  const std::string parent = v1_parent_with_none_kept("memory");
  if (parent.empty()) GTEST_SKIP() << "v1 limit cgroups are root's, on a host with a v1 memory hierarchy";
  ASSERT_TRUE(run_cgroups(parent).empty());
  const bs::Result a = bs::run({"true"}, isolated({.memory_limit_mb = 32}));
  ASSERT_EQ(a.exit_code, 0) << a;
  const auto kept = run_cgroups(parent);
  ASSERT_EQ(kept.size(), 1u) << "the run's memory cgroup was not kept";
  // A higher limit than the run before's (its memsw limit must go first).
  const bs::Result b =
      bs::run(probe({"alloc-mb", "64"}), {.timeout = 3s, .isolation = bs::Isolation{.memory_limit_mb = 256}});
  EXPECT_EQ(b.out.data, "allocated\n") << b;
  EXPECT_TRUE(b.timeout) << b;
  EXPECT_FALSE(b.limits_hit.memory) << b;
  EXPECT_EQ(run_cgroups(parent), kept) << "the kept cgroup was not used";
  const bs::Result c = bs::run(probe({"alloc-mb", "512"}), isolated({.memory_limit_mb = 32}));
  EXPECT_EQ(c.reason, bs::EndReason::memory_limit) << c;
  EXPECT_TRUE(c.limits_hit.memory) << c;
  EXPECT_EQ(run_cgroups(parent), kept);
  const bs::Result d = bs::run({"true"}, isolated({.memory_limit_mb = 32}));
  EXPECT_EQ(d.exit_code, 0) << d;
  EXPECT_FALSE(d.limits_hit.memory) << "the kill of the run before reached this one: " << d;
  EXPECT_EQ(run_cgroups(parent), kept);
  bs::drop_warm_sandboxes();
  EXPECT_TRUE(run_cgroups(parent).empty()) << "drop_warm_sandboxes() left a kept cgroup";
}

// A kept cgroup that someone else removed: the next run makes a new one.
TEST(Limits, AKeptCgroupRemovedFromOutsideIsReplaced) {
  REQUIRE_ISOLATION();
  const std::string parent = v1_parent_with_none_kept("pids");
  if (parent.empty()) GTEST_SKIP() << "v1 limit cgroups are root's, on a host with a v1 pids hierarchy";
  const bs::Options limited{.timeout = 30s, .isolation = bs::Isolation{.pids_limit = 8}};
  ASSERT_EQ(bs::run({"true"}, limited).exit_code, 0);
  const auto kept = run_cgroups(parent);
  ASSERT_EQ(kept.size(), 1u) << "the run's pids cgroup was not kept";
  ASSERT_EQ(::rmdir(kept[0].c_str()), 0) << kept[0] << ": " << std::strerror(errno);
  const bs::Result r = bs::run({"true"}, limited);  // the same limit: nothing to write
  EXPECT_EQ(r.exit_code, 0) << r;
  const auto now = run_cgroups(parent);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now, kept);
  bs::drop_warm_sandboxes();
}

// A run that leaves page cache charged to its memory cgroup (a file it
// wrote) does not pass it on: the next run would find it in its limit.
TEST(Limits, AMemoryCgroupWithPageCacheIsNotKept) {
  REQUIRE_ISOLATION();
  const std::string parent = v1_parent_with_none_kept("memory");
  if (parent.empty()) GTEST_SKIP() << "v1 limit cgroups are root's, on a host with a v1 memory hierarchy";
  TempDir dir;
  const bs::Result control = bs::run({"true"}, isolated({.memory_limit_mb = 64}));
  ASSERT_EQ(control.exit_code, 0) << control;
  ASSERT_EQ(run_cgroups(parent).size(), 1u) << "the control's cgroup was not kept";
  bs::drop_warm_sandboxes();
  const bs::Result r = bs::run(probe({"write-mb", dir / "cache", "8"}), isolated({.memory_limit_mb = 64}));
  ASSERT_EQ(r.out.data, "wrote 8 MiB\n") << r;
  EXPECT_TRUE(run_cgroups(parent).empty()) << "a cgroup holding the run's page cache was kept";
}

// The v1 limit cgroups a process keeps go when it exits. Its first run's
// are never kept: a process that isolates one run leaves none either.
TEST(Limits, NoKeptCgroupOutlivesItsProcess) {
  REQUIRE_ISOLATION();
  const std::string parent = own_v1_cgroup("pids");
  if (!root() || parent.empty())
    GTEST_SKIP() << "v1 limit cgroups are root's, on a host with a v1 pids hierarchy";
  for (const int runs : {1, 2}) {
    // A host of its own, in no namespace of ours: its pid names its folders.
    const bs::Result r = bs::run({BS_ISOLATION_HOST_PATH, std::to_string(runs), parent},
                                 {.timeout = 60s, .containment = bs::Containment::process_group});
    ASSERT_EQ(r.exit_code, 0) << r << r.err.data;
    int host = 0, kept = -1;
    ASSERT_EQ(std::sscanf(r.out.data.c_str(), "%d %d", &host, &kept), 2) << r.out.data;
    EXPECT_EQ(kept, runs == 2 ? 1 : 0) << runs << " runs";
    const auto left = cgroups_of(parent, host);
    EXPECT_TRUE(left.empty()) << runs << " runs: left " << (left.empty() ? "" : left[0]);
  }
}

// A hostile job beside another: the other's result is untouched.
TEST(Hostile, ANeighbourIsUnaffected) {
  REQUIRE_ISOLATION();
  Listener host;
  auto hostile = std::async(std::launch::async, [&] {
    return bs::run({"/bin/sh", "-c", kProbe + " fill /tmp/f; " + kProbe + " fork 100; "},
                   {.timeout = 3s,
                    .isolation = bs::Isolation{
                        .network = bs::Network::none, .read_only = true, .scratch_mb = 4, .pids_limit = 8}});
  });
  const bs::Result calm = bs::run(
      {"/bin/sh", "-c",
       kProbe + " create /tmp/mine && " + kProbe + " read /tmp/mine && " + kProbe + " fork 4"},
      {.timeout = 2s, .isolation = bs::Isolation{.read_only = true, .scratch_mb = 4, .pids_limit = 16}});
  EXPECT_NE(calm.out.data.find("created\nxforked 4 errno 0"), std::string::npos) << calm << calm.out.data;
  EXPECT_FALSE(calm.limits_hit.any()) << calm;
  const bs::Result h = hostile.get();
  EXPECT_TRUE(h.timeout) << h;
}

}  // namespace
