// bs_containment_host: a host process for the containment tests, doing what
// a test process must not do to itself.
//
//   bs_containment_host sigchld-ignored MECH MISBEHAVE
//       ignores SIGCHLD (as a careless host might), then runs MISBEHAVE
//       `exit 0`, `exit 3` and `kill-self 9` under MECH and prints one line
//       per run: "exit_code N", or "error: WHAT" when the library refused.
//   bs_containment_host sigchld-reaper MECH MISBEHAVE
//       the same with a SIGCHLD handler that reaps every child that ends.
//   bs_containment_host hold MECH MISBEHAVE
//       starts MISBEHAVE `escape setsid sleep` under MECH, prints "ready"
//       once the escapee is out, then waits to be killed.
//   bs_containment_host signals MECH CLONE3
//       ignores SIGPIPE, SIGUSR1, SIGHUP and SIGXFSZ, handles SIGUSR2,
//       SIGTERM and SIGINT, blocks SIGQUIT, then runs `cat /proc/self/status`
//       under MECH and prints its SigBlk, SigIgn and SigCgt lines. With
//       CLONE3 `refused`, a seccomp filter first makes clone3 fail with
//       ENOSYS, as some container runtimes do.
//   bs_containment_host kill-all-refused MECH MARKER
//       a seccomp filter makes kill(-1, ...) fail with EPERM; then runs a
//       shell under MECH that leaves `sleep 20; touch MARKER` behind, and
//       prints "exit_code N", or "not a fresh /proc" when the run's /proc is
//       the host's (its init then has no listing of the run to use).
//   bs_containment_host probes-forbidden MECH FORBID MISBEHAVE
//       a seccomp filter kills this process (SIGSYS) at the clone() of a
//       probe's throw-away init of the kind FORBID: `any` (every clone()
//       with CLONE_PIDFD and without CLONE_VFORK: the program's start uses
//       CLONE_VFORK and the run's init clone3), `pid` (with CLONE_NEWPID) or
//       `subreaper` (neither); or, with FORBID `cgroupns`, makes every
//       unshare(CLONE_NEWCGROUP) fail with EPERM; then runs MISBEHAVE `exit 0`
//       under MECH (`auto`: the default) and prints "exit_code N containment C".
//   bs_containment_host answers ORDER
//       asks whether each mechanism is available, from the strongest down
//       (ORDER `strongest-first`), from eight threads at once in different
//       orders (`concurrent`) or from the weakest up, and prints one line
//       per mechanism, weakest first: "NAME yes", or "NAME no: WHY" with the
//       error of a run that asks for it.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bounded_subprocess/interactive.hpp>
#include <bounded_subprocess/run.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace {

void on_signal(int) {}

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#endif

// Installs a seccomp filter for this process and its children: `code`
// runs once the architecture is checked, with the syscall number loaded.
bool install_filter(std::vector<sock_filter> code) {
  code.insert(code.begin(), {
                                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
                                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
                                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
                            });
  sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// clone3 fails with ENOSYS from now on, in this process and its children.
bool refuse_clone3() {
  return install_filter({
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  });
}

// kill(-1, ...) fails with EPERM from now on (the low 32 bits of the first
// argument are what the kernel reads as the pid).
bool refuse_kill_all() {
  return install_filter({
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kill, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffU, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  });
}

// A SIGCHLD handler that reaps whatever child has ended (as some hosts'
// handlers do), which would take a status the library waits for.
extern "C" void reap_every_child(int) {
  const int saved = errno;
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  errno = saved;
}

int run_leaving_a_sleeper(bs::Containment mechanism, const std::string& marker) {
  if (!refuse_kill_all()) return 4;
  try {
    const bs::Result init = bs::run({"cat", "/proc/1/comm"}, {.timeout = 20s, .containment = mechanism});
    if (init.out.data != "bs-init\n") {
      std::printf("not a fresh /proc\n");
      return 0;
    }
    const bs::Result r = bs::run({"sh", "-c", "(sleep 20; touch \"$1\") & exit 0", "sh", marker},
                                 {.timeout = 60s, .containment = mechanism});
    std::printf("exit_code %d\n", r.exit_code);
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
  }
  return 0;
}

int print_child_signals(bs::Containment mechanism, bool clone3_refused) {
  if (clone3_refused && !refuse_clone3()) return 4;
  for (int sig : {SIGPIPE, SIGUSR1, SIGHUP, SIGXFSZ}) ::signal(sig, SIG_IGN);
  for (int sig : {SIGUSR2, SIGTERM, SIGINT}) ::signal(sig, on_signal);
  sigset_t quit;
  sigemptyset(&quit);
  sigaddset(&quit, SIGQUIT);
  ::sigprocmask(SIG_BLOCK, &quit, nullptr);
  try {
    const bs::Result r = bs::run({"cat", "/proc/self/status"}, {.timeout = 20s, .containment = mechanism});
    if (r.exit_code != 0) return 5;
    for (const char* key : {"SigBlk:", "SigIgn:", "SigCgt:"}) {
      const auto at = r.out.data.find(key);
      if (at == std::string::npos) return 6;
      std::printf("%s\n", r.out.data.substr(at, r.out.data.find('\n', at) - at).c_str());
    }
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
  }
  return 0;
}

// Kills this process at a clone() (not clone3) that asks for a pidfd, as the
// library's clones do (not LeakSanitizer's at exit), whose flags have none
// of the `allowed` bits and, when `required` is not 0, some of its bits.
bool forbid_clones(std::uint32_t allowed, std::uint32_t required) {
  const unsigned char tail = required != 0 ? 5 : 4;  // from the first jump to ALLOW
  std::vector<sock_filter> code = {
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, tail),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // the low 32 bits of flags
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, allowed, static_cast<unsigned char>(tail - 2), 0),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_PIDFD, 0, static_cast<unsigned char>(tail - 3)),
  };
  if (required != 0) code.push_back(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, required, 0, 1));
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  code.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return install_filter(std::move(code));
}

// Makes every unshare() with CLONE_NEWCGROUP fail with EPERM, as a
// container runtime's filter may.
bool refuse_cgroup_namespaces() {
  return install_filter({
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 3),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWCGROUP, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  });
}

int run_with_probes_forbidden(const std::string& mechanism, const std::string& forbid,
                              const std::string& misbehave) {
  std::optional<bs::Containment> exactly;
  if (mechanism != "auto") {
    exactly = bs::containment_from_string(mechanism);
    if (!exactly) return 2;
  }
  bool installed = false;
  if (forbid == "any") installed = forbid_clones(CLONE_VFORK, 0);
  if (forbid == "pid") installed = forbid_clones(CLONE_VFORK, CLONE_NEWPID);
  if (forbid == "subreaper") installed = forbid_clones(CLONE_VFORK | CLONE_NEWPID, 0);
  if (forbid == "cgroupns") installed = refuse_cgroup_namespaces();
  if (!installed) return 4;
  try {
    const bs::Result r = bs::run({misbehave, "exit", "0"}, {.timeout = 20s, .containment = exactly});
    std::printf("exit_code %d containment %s\n", r.exit_code,
                std::string(bs::to_string(r.containment)).c_str());
  } catch (const std::exception& e) {
    std::printf("error: %s\n", e.what());
  }
  return 0;
}

int print_answers(const std::string& order) {
  std::vector<bs::Containment> all = {bs::Containment::process_group, bs::Containment::subreaper,
                                      bs::Containment::pid_namespace, bs::Containment::cgroup};
  if (order == "strongest-first") std::reverse(all.begin(), all.end());
  bool available[4] = {};
  if (order == "concurrent") {
    // Eight threads ask at once, each in its own order, and two of them run
    // with the default first: the probes' first uses race.
    std::atomic<bool> differ{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([t, &all, &available, &differ] {
        std::vector<bs::Containment> mine = all;
        std::rotate(mine.begin(), mine.begin() + t % 4, mine.end());
        if (t >= 4) std::reverse(mine.begin(), mine.end());
        if (t % 4 == 1) bs::run({"true"}, {.timeout = 20s});
        bool answers[4] = {};
        for (bs::Containment c : mine) answers[static_cast<int>(c)] = bs::containment_available(c);
        if (t == 0) std::copy(std::begin(answers), std::end(answers), available);
        for (int i = 0; i < 4; ++i)
          if (answers[i] != bs::containment_available(static_cast<bs::Containment>(i))) differ = true;
      });
    }
    for (auto& th : threads) th.join();
    if (differ) std::printf("the threads' answers differ\n");
  } else {
    for (bs::Containment c : all) available[static_cast<int>(c)] = bs::containment_available(c);
  }
  std::sort(all.begin(), all.end());
  for (bs::Containment c : all) {
    std::string line = std::string(bs::to_string(c));
    if (available[static_cast<int>(c)]) {
      line += " yes";
    } else {
      try {
        bs::run({"true"}, {.timeout = 20s, .containment = c});
        line += " no, but a run asking for it started";
      } catch (const std::exception& e) {
        line += std::string(" no: ") + e.what();
      }
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "answers") return print_answers(argv[2]);
  if (argc == 5 && std::string(argv[1]) == "probes-forbidden")
    return run_with_probes_forbidden(argv[2], argv[3], argv[4]);
  if (argc != 4) return 2;
  const std::string mode = argv[1];
  const auto mechanism = bs::containment_from_string(argv[2]);
  const std::string misbehave = argv[3];
  if (!mechanism) return 2;
  if (mode == "signals") return print_child_signals(*mechanism, std::string(argv[3]) == "refused");
  if (mode == "kill-all-refused") return run_leaving_a_sleeper(*mechanism, argv[3]);
  if (mode == "sigchld-ignored" || mode == "sigchld-reaper") {
    if (mode == "sigchld-ignored")
      ::signal(SIGCHLD, SIG_IGN);
    else
      ::signal(SIGCHLD, reap_every_child);
    for (const auto& args : {std::vector<std::string>{"exit", "0"}, {"exit", "3"}, {"kill-self", "9"}}) {
      std::vector<std::string> argv_run = {misbehave};
      argv_run.insert(argv_run.end(), args.begin(), args.end());
      try {
        const bs::Result r = bs::run(argv_run, {.timeout = 20s, .containment = *mechanism});
        std::printf("exit_code %d\n", r.exit_code);
      } catch (const std::exception& e) {
        std::printf("error: %s\n", e.what());
      }
    }
    return 0;
  }
  if (mode == "hold") {
    bs::Interactive proc({misbehave, "escape", "setsid", "sleep"}, {.containment = *mechanism});
    if (!proc.read_line(20s)) return 3;
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) ::pause();
  }
  return 2;
}
