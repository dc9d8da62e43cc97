// The cgroup folders a process's runs make: bounded_subprocess.PID.* in a
// cgroup directory (the isolation tests and their host process).
#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <string>
#include <vector>

// The folders bounded_subprocess.`pid`.* in `dir`, each as dir/name.
inline std::vector<std::string> cgroups_of(const std::string& dir, pid_t pid) {
  std::vector<std::string> found;
  const std::string prefix = "bounded_subprocess." + std::to_string(pid) + ".";
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (std::string(e->d_name).rfind(prefix, 0) == 0) found.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  return found;
}
