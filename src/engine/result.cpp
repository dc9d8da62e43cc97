#include "bounded_subprocess/result.hpp"

#include <cstdio>
#include <cstring>
#include <ostream>
#include <string>

namespace bounded_subprocess {

std::string_view to_string(EndReason reason) noexcept {
  switch (reason) {
    case EndReason::exited: return "exited";
    case EndReason::signaled: return "signaled";
    case EndReason::timeout: return "timeout";
    case EndReason::memory_limit: return "memory_limit";
    case EndReason::cancelled: return "cancelled";
    case EndReason::watchdog_failed: return "watchdog_failed";
    case EndReason::containment_broken: return "containment_broken";
    case EndReason::cpu_limit: return "cpu_limit";
  }
  return "unknown";
}

std::string_view to_string(MemoryEnforcer enforcer) noexcept {
  switch (enforcer) {
    case MemoryEnforcer::none: return "none";
    case MemoryEnforcer::watchdog: return "watchdog";
    case MemoryEnforcer::kernel: return "kernel";
  }
  return "unknown";
}

std::ostream& operator<<(std::ostream& os, EndReason reason) {
  return os << to_string(reason);
}

namespace {
std::string describe_stream(const char* name, const Capture& c) {
  std::string s = std::string(name) + " " + std::to_string(c.data.size()) + " B";
  if (c.truncated) s += " of " + std::to_string(c.total_bytes) + " B (truncated)";
  return s;
}
}  // namespace

std::string Result::str() const {
  std::string s;
  switch (reason) {
    case EndReason::exited: s = "exited " + std::to_string(exit_code); break;
    case EndReason::signaled: s = "killed by signal " + std::to_string(term_signal); break;
    case EndReason::timeout: s = "timed out"; break;
    case EndReason::memory_limit:
      s = memory_enforcer == MemoryEnforcer::kernel ? "killed at the kernel's memory limit"
                                                    : "killed by the memory watchdog";
      break;
    case EndReason::cpu_limit: s = "killed at its CPU limit"; break;
    case EndReason::cancelled: s = "cancelled"; break;
    case EndReason::watchdog_failed:
      s = std::string("killed: the memory watchdog could not measure it (") + std::strerror(watchdog_error) +
          ")";
      break;
    case EndReason::containment_broken:
      s = "containment broken: its init was killed from inside the run, exit code " +
          std::to_string(exit_code);
      break;
  }
  if (stdin_write_failed) s += ", stdin write failed";
  if (limits_hit.any()) {
    s += ", limits hit:";
    if (limits_hit.memory) s += " memory";
    if (limits_hit.pids) s += " pids";
    if (limits_hit.cpu) s += " cpu";
    if (limits_hit.file_size) s += " file_size";
    if (limits_hit.scratch) s += " scratch";
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3fs", elapsed.count());
  s += " after ";
  s += secs;
  s += ", exit_code " + std::to_string(exit_code);
  s += ", " + describe_stream("stdout", out) + ", " + describe_stream("stderr", err);
  return s;
}

std::ostream& operator<<(std::ostream& os, const Result& result) {
  return os << result.str();
}

}  // namespace bounded_subprocess
