// bounded-run as a direct child of the test, for what bs::run cannot set up:
// signals sent to bounded-run itself, an ignored SIGCHLD inherited across
// exec, stdout on /dev/full, stdin from a FIFO or an endless pipe, a CPU
// affinity. The test waits with a generous bound (catching a hang only) and
// kills bounded-run if that bound passes.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_test_support.hpp"

namespace cli_test {

struct ChildSetup {
  std::optional<std::string> stdin_path{};   ///< default /dev/null
  std::optional<int> stdin_fd{};             ///< instead of stdin_path
  std::optional<std::string> stdout_path{};  ///< default a temp file (see Spawned::out)
  std::vector<int> ignored_signals{};        ///< set to SIG_IGN before exec (inherited)
  std::optional<int> cpu{};                  ///< pin to this CPU
  std::vector<std::string> env{};            ///< NAME=VALUE added to the environment
  std::optional<rlim_t> nofile{};            ///< RLIMIT_NOFILE, soft and hard
};

/// A bounded-run started by spawn(); its stdout and stderr go to files.
class Spawned {
 public:
  Spawned(const std::vector<std::string>& args, const ChildSetup& setup) : dir_("") {
    out_path_ = setup.stdout_path.value_or(dir_.dir() + "/stdout");
    err_path_ = dir_.dir() + "/stderr";
    argv_.push_back(bounded_run_path());
    argv_.insert(argv_.end(), args.begin(), args.end());
    for (std::string& a : argv_) argp_.push_back(a.data());
    argp_.push_back(nullptr);
    env_ = setup.env;
    pid_ = ::fork();
    if (pid_ == 0) exec_child(setup);  // never returns
    EXPECT_GT(pid_, 0);
  }
  ~Spawned() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Spawned(const Spawned&) = delete;
  Spawned& operator=(const Spawned&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_.dir(); }

  /// Waits for bounded-run to end (at most `limit`; then it is killed and
  /// the test fails). Returns its status shell-style: the exit status, or
  /// 1000+N when signal N ended it (so that 128+N and "killed by N" differ).
  int wait(std::chrono::seconds limit = std::chrono::seconds(60)) {
    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    EXPECT_GE(pidfd, 0);
    pollfd p{pidfd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(limit).count()));
    ::close(pidfd);
    if (ready != 1) {
      ADD_FAILURE() << "bounded-run did not end within " << limit.count() << " s: killed";
      ::kill(pid_, SIGKILL);
    }
    int status = 0;
    ::wait4(pid_, &status, 0, &usage_);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
  }

  /// Peak RSS of bounded-run in KiB (after wait()).
  long max_rss_kb() const { return usage_.ru_maxrss; }
  std::string out() const { return slurp(out_path_); }
  std::string err() const { return slurp(err_path_); }

 private:
  // Between fork and exec: no allocation (everything was prepared before).
  [[noreturn]] void exec_child(const ChildSetup& setup) {
    for (int sig : setup.ignored_signals) ::signal(sig, SIG_IGN);
    int in =
        setup.stdin_fd ? *setup.stdin_fd : ::open(setup.stdin_path.value_or("/dev/null").c_str(), O_RDONLY);
    const int out = setup.stdout_path ? ::open(out_path_.c_str(), O_WRONLY)
                                      : ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) ::_exit(120);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    if (setup.cpu) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(*setup.cpu, &set);
      ::sched_setaffinity(0, sizeof set, &set);
    }
    if (setup.nofile) {
      const rlimit lim{*setup.nofile, *setup.nofile};
      if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) ::_exit(122);
    }
    for (std::string& e : env_) ::putenv(e.data());
    ::execv(argp_[0], argp_.data());
    ::_exit(121);
  }

  static std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  }

  TempFile dir_;
  std::vector<std::string> argv_;
  std::vector<char*> argp_;
  std::vector<std::string> env_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  rusage usage_{};
};

/// Waits (up to `limit`) until `path` exists and is not empty; false if not.
inline bool wait_for_file(const std::string& path, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    std::ifstream f(path);
    std::string s;
    if (f && std::getline(f, s) && !s.empty()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

/// True once process `pid` has a handler installed for `sig` (SigCgt in
/// /proc/PID/status): bounded-run is ready to be signalled.
inline bool catches_signal(pid_t pid, int sig) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("SigCgt:", 0) == 0) {
      const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
      return (mask >> (sig - 1)) & 1ULL;
    }
  }
  return false;
}

inline bool wait_until_catches(pid_t pid, int sig, std::chrono::seconds limit = std::chrono::seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (catches_signal(pid, sig)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace cli_test
