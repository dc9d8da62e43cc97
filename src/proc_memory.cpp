// Peak RSS of process groups, from one pass over /proc.
#include "proc_memory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "unique_fd.hpp"

namespace bounded_subprocess::detail {

namespace {

// Reads a small /proc file into `buf`; returns the bytes read, 0 on failure.
std::size_t read_small(int dirfd, const char* path, char* buf, std::size_t size) {
  UniqueFd fd(::openat(dirfd, path, O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  std::size_t got = 0;
  while (got < size - 1) {
    const ssize_t n = ::read(fd.get(), buf + got, size - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  buf[got] = '\0';
  return got;
}

// The process group from /proc/PID/stat: "pid (comm) state ppid pgrp ...".
// comm may hold spaces and parentheses, so parse after the last ')'.
bool read_pgrp(int procfd, const char* pid, pid_t& pgrp) {
  char path[300];  // a d_name (at most 255 bytes) and "/stat"
  std::snprintf(path, sizeof path, "%s/stat", pid);
  char buf[512];
  if (read_small(procfd, path, buf, sizeof buf) == 0) return false;
  const char* close = std::strrchr(buf, ')');
  if (close == nullptr) return false;
  char state = 0;
  int ppid = 0, group = 0;
  if (std::sscanf(close + 1, " %c %d %d", &state, &ppid, &group) != 3) return false;
  pgrp = group;
  return true;
}

// VmHWM (peak RSS), else VmRSS, in KiB; 0 for zombies and kernel threads.
std::uint64_t read_peak_kb(int procfd, const char* pid) {
  char path[64];
  std::snprintf(path, sizeof path, "%s/status", pid);
  char buf[4096];
  if (read_small(procfd, path, buf, sizeof buf) == 0) return 0;
  std::string_view text(buf);
  for (const char* key : {"VmHWM:", "VmRSS:"}) {
    const auto at = text.find(key);
    if (at != std::string_view::npos) return std::strtoull(buf + at + std::strlen(key), nullptr, 10);
  }
  return 0;
}

}  // namespace

std::vector<std::uint64_t> sample_groups_kb(std::span<const pid_t> pgids) {
  std::vector<std::uint64_t> sums(pgids.size(), 0);
  if (pgids.empty()) return sums;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return sums;
  const int procfd = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    if (name[0] < '1' || name[0] > '9') continue;
    pid_t pgrp = 0;
    if (!read_pgrp(procfd, name, pgrp)) continue;
    const auto it = std::find(pgids.begin(), pgids.end(), pgrp);
    if (it == pgids.end()) continue;
    sums[static_cast<std::size_t>(it - pgids.begin())] += read_peak_kb(procfd, name);
  }
  ::closedir(dir);
  return sums;
}

std::uint64_t sample_group_kb(pid_t pgid) { return sample_groups_kb(std::span<const pid_t>(&pgid, 1)).front(); }

}  // namespace bounded_subprocess::detail
