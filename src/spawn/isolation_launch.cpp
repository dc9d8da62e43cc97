// The isolation of a run, set up in the program's own process between
// clone() and execve() (see IsolationPlan in launch.hpp). Compiled
// freestanding with launch.cpp: raw system calls only, data from the plan.
//
// The process is a child of the run's init, inside its PID (and, for a
// caller that is not root, user) namespace, so it has the capabilities the
// setup needs; it drops them (root) or loses them at exec (a mapped uid
// other than 0) before the program runs.
#include <errno.h>  // the E* constants only: never errno itself
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "spawn/launch.hpp"
#include "spawn/raw_syscall.hpp"

namespace bounded_subprocess::detail {

namespace {

using raw::call;

// The new mount API's constants (not in every libc's headers).
constexpr unsigned long kMountAttrRdonly = 0x00000001;
constexpr unsigned kAtRecursive = 0x8000;
constexpr unsigned kAtEmptyPath = 0x1000;
constexpr unsigned kOpenTreeClone = 1;
constexpr unsigned kMoveMountFEmptyPath = 0x00000004;
#ifndef SYS_open_tree
constexpr long SYS_open_tree = 428;
#endif
#ifndef SYS_move_mount
constexpr long SYS_move_mount = 429;
#endif
#ifndef SYS_mount_setattr
constexpr long SYS_mount_setattr = 442;
#endif
#ifndef SYS_fsopen
constexpr long SYS_fsopen = 430;
#endif
#ifndef SYS_fsconfig
constexpr long SYS_fsconfig = 431;
#endif
#ifndef SYS_fsmount
constexpr long SYS_fsmount = 432;
#endif
constexpr unsigned kFsopenCloexec = 1;
constexpr unsigned kFsmountCloexec = 1;
constexpr unsigned kFsconfigSetString = 1;
constexpr unsigned kFsconfigCmdCreate = 6;
constexpr unsigned kMountAttrNosuid = 0x2;
constexpr unsigned kMountAttrNodev = 0x4;

struct MountAttr {
  unsigned long long attr_set;
  unsigned long long attr_clr;
  unsigned long long propagation;
  unsigned long long userns_fd;
};

long make_read_only(int dirfd, const char* path, unsigned flags) {
  MountAttr attr{kMountAttrRdonly, 0, 0, 0};
  return call(SYS_mount_setattr, dirfd, path, flags | kAtRecursive, &attr, sizeof attr);
}

// struct ifreq, as far as SIOC[GS]IFFLAGS use it.
struct InterfaceFlags {
  char name[16];
  short flags;
  char pad[22];
};
constexpr unsigned long kSiocGifflags = 0x8913;
constexpr unsigned long kSiocSifflags = 0x8914;
constexpr short kIffUp = 0x1;

}  // namespace

// The loopback of a new network namespace is down: bring it up, so that
// the program can talk to itself over 127.0.0.1.
extern "C" long bs_loopback_up() {
  const long fd = call(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fd;
  InterfaceFlags req{};
  req.name[0] = 'l';
  req.name[1] = 'o';
  long r = call(SYS_ioctl, fd, kSiocGifflags, &req);
  if (r == 0) {
    req.flags = static_cast<short>(req.flags | kIffUp);
    r = call(SYS_ioctl, fd, kSiocSifflags, &req);
  }
  call(SYS_close, fd);
  return r;
}

namespace {

long loopback_up() {
  return bs_loopback_up();
}

struct Rlimit64 {
  unsigned long long cur;
  unsigned long long max;
};

long set_limit(int resource, long long value) {
  const Rlimit64 limit{static_cast<unsigned long long>(value), static_cast<unsigned long long>(value)};
  return call(SYS_prlimit64, 0, resource, &limit, nullptr);
}

// podman's default capabilities: CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL,
// SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, SYS_CHROOT, SETFCAP.
constexpr unsigned long long kKeptCapabilities = (1ULL << 0) | (1ULL << 1) | (1ULL << 3) | (1ULL << 4) |
                                                 (1ULL << 5) | (1ULL << 6) | (1ULL << 7) | (1ULL << 8) |
                                                 (1ULL << 10) | (1ULL << 18) | (1ULL << 31);

struct CapHeader {
  unsigned version;
  int pid;
};
struct CapData {
  unsigned effective;
  unsigned permitted;
  unsigned inheritable;
};

long drop_capabilities() {
  for (int cap = 0; cap < 64; ++cap) {
    if ((kKeptCapabilities >> cap & 1) != 0) continue;
    const long r = call(SYS_prctl, PR_CAPBSET_DROP, cap, 0, 0, 0);
    if (r == -EINVAL) break;  // past the kernel's last capability
    if (r < 0) return r;
  }
  call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  CapHeader header{0x20080522, 0};  // _LINUX_CAPABILITY_VERSION_3
  CapData data[2];
  if (const long r = call(SYS_capget, &header, data); r < 0) return r;
  const auto low = static_cast<unsigned>(kKeptCapabilities & 0xffffffffU);
  const auto high = static_cast<unsigned>(kKeptCapabilities >> 32);
  data[0].effective &= low;
  data[0].permitted &= low;
  data[0].inheritable &= low;
  data[1].effective &= high;
  data[1].permitted &= high;
  data[1].inheritable &= high;
  return call(SYS_capset, &header, data);
}

}  // namespace

extern "C" long bs_make_scratch(const char* size) {
  const long fs = call(SYS_fsopen, "tmpfs", kFsopenCloexec);
  if (fs < 0) return fs;
  long r = call(SYS_fsconfig, fs, kFsconfigSetString, "size", size, 0);
  if (r == 0) r = call(SYS_fsconfig, fs, kFsconfigSetString, "mode", "1777", 0);
  if (r == 0) r = call(SYS_fsconfig, fs, kFsconfigCmdCreate, nullptr, nullptr, 0);
  if (r == 0) r = call(SYS_fsmount, fs, kFsmountCloexec, kMountAttrNosuid | kMountAttrNodev);
  call(SYS_close, fs);
  return r;
}

extern "C" long bs_place_scratch(int mount_fd) {
  return call(SYS_move_mount, mount_fd, "", AT_FDCWD, "/tmp", kMoveMountFEmptyPath);
}

extern "C" bool bs_file_system_full(int fd) {
  struct statfs st {};
  if (call(SYS_fstatfs, fd, &st) < 0) return false;
  return st.f_bavail == 0 || st.f_ffree == 0;
}

namespace {

// A new mount namespace, none of whose mounts reaches the host's.
long new_view() {
  long r = call(SYS_unshare, CLONE_NEWNS);
  if (r == 0) r = call(SYS_mount, nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr);
  return r;
}

// The host's files read-only, or only /sys/fs/cgroup and /proc/sys, as the
// plan asks.
long protect_view(const IsolationPlan& plan) {
  long r = 0;
  if (plan.read_only) r = make_read_only(AT_FDCWD, "/", 0);
  if (r == 0 && plan.protect_cgroups && !plan.read_only) {
    r = make_read_only(AT_FDCWD, "/sys/fs/cgroup", 0);
    if (r == -ENOENT) r = 0;
  }
  if (r == 0 && plan.protect_sysctls && !plan.read_only) {
    // /proc/sys is no mount of its own: bind it onto itself first.
    const long fd = call(SYS_open_tree, AT_FDCWD, "/proc/sys", kOpenTreeClone | O_CLOEXEC);
    r = fd < 0 ? fd : make_read_only(static_cast<int>(fd), "", kAtEmptyPath);
    if (r == 0) r = call(SYS_move_mount, fd, "", AT_FDCWD, "/proc/sys", kMoveMountFEmptyPath);
    if (fd >= 0) call(SYS_close, fd);
  }
  return r;
}

}  // namespace

extern "C" long bs_make_view(const IsolationPlan* plan) {
  const long r = new_view();
  return r == 0 ? protect_view(*plan) : r;
}

extern "C" long bs_isolate(const IsolationPlan* plan_ptr, int scratch_mount_fd, LaunchStage* stage,
                           int* detail) {
  const IsolationPlan& plan = *plan_ptr;
  auto failed = [&](LaunchStage s, long r) {
    *stage = s;
    return r;
  };
  int volume_fd[kMaxVolumes];
  int opened = 0;
  auto close_volumes = [&] {
    for (int i = 0; i < opened; ++i) call(SYS_close, volume_fd[i]);
  };
  if (plan.new_mount_namespace) {
    // A view (mount_views.hpp) is entered already, its scratch in place,
    // and has no volumes.
    long r = plan.view_entered ? 0 : new_view();
    if (r < 0) return failed(LaunchStage::isolation_mounts, r);
    // The volumes are cloned before the view turns read-only, so that a
    // writable volume stays writable.
    for (; opened < plan.volume_count; ++opened) {
      const long fd = call(SYS_open_tree, AT_FDCWD, plan.volume_source[opened],
                           kOpenTreeClone | O_CLOEXEC | kAtRecursive);
      if (fd < 0) {
        *detail = opened;
        close_volumes();
        return failed(LaunchStage::isolation_volume, fd);
      }
      volume_fd[opened] = static_cast<int>(fd);
      if (plan.volume_read_only[opened]) {
        if (const long e = make_read_only(volume_fd[opened], "", kAtEmptyPath); e < 0) {
          *detail = opened;
          ++opened;
          close_volumes();
          return failed(LaunchStage::isolation_volume, e);
        }
      }
    }
    if (!plan.view_entered) r = protect_view(plan);
    if (r < 0) {
      close_volumes();
      return failed(LaunchStage::isolation_mounts, r);
    }
    if (plan.scratch_size != nullptr && !plan.view_entered) {
      r = scratch_mount_fd < 0 ? -EBADF : bs_place_scratch(scratch_mount_fd);
      if (r < 0) {
        close_volumes();
        return failed(LaunchStage::isolation_scratch, r);
      }
    }
    for (int i = 0; i < plan.volume_count; ++i) {
      if (plan.volume_make_target[i]) {
        r = call(SYS_mkdirat, AT_FDCWD, plan.volume_target[i], 0755);
        if (r == -EEXIST) r = 0;
      }
      if (r == 0)
        r = call(SYS_move_mount, volume_fd[i], "", AT_FDCWD, plan.volume_target[i], kMoveMountFEmptyPath);
      if (r < 0) {
        *detail = i;
        close_volumes();
        return failed(LaunchStage::isolation_volume, r);
      }
    }
    close_volumes();
  }
  if (plan.network_none) {
    // A pooled namespace has its loopback up already.
    long r =
        plan.netns_fd >= 0 ? call(SYS_setns, plan.netns_fd, CLONE_NEWNET) : call(SYS_unshare, CLONE_NEWNET);
    if (r == 0 && plan.netns_fd < 0) r = loopback_up();
    if (r < 0) return failed(LaunchStage::isolation_network, r);
  }
  if (plan.file_size_limit >= 0) {
    if (const long r = set_limit(RLIMIT_FSIZE, plan.file_size_limit); r < 0)
      return failed(LaunchStage::isolation_limits, r);
  }
  if (plan.nproc_limit >= 0) {
    if (const long r = set_limit(RLIMIT_NPROC, plan.nproc_limit); r < 0)
      return failed(LaunchStage::isolation_limits, r);
  }
  if (plan.drop_capabilities) {
    if (const long r = drop_capabilities(); r < 0) return failed(LaunchStage::isolation_privileges, r);
  }
  if (const long r = call(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); r < 0)
    return failed(LaunchStage::isolation_privileges, r);
  return 0;
}

}  // namespace bounded_subprocess::detail
