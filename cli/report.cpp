#include "report.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>

#include "utf8.hpp"

namespace bounded_subprocess::cli {

namespace {

double seconds(std::chrono::microseconds us) {
  return std::chrono::duration<double>(us).count();
}

}  // namespace

nlohmann::ordered_json result_json(const Result& result, int cancel_signal) {
  return nlohmann::ordered_json{
      {"exit_code", result.exit_code},
      {"timeout", result.timeout},
      {"stdout", drop_invalid_utf8(result.out.data)},
      {"stderr", drop_invalid_utf8(result.err.data)},
      {"memory_limit_exceeded", result.memory_limit_exceeded},
      {"stdin_write_failed", result.stdin_write_failed},
      {"stdout_truncated", result.out.truncated},
      {"stderr_truncated", result.err.truncated},
      {"elapsed_seconds", result.elapsed.count()},
      {"reason", std::string(to_string(result.reason))},
      {"signal", result.term_signal},
      {"stdout_total_bytes", result.out.total_bytes},
      {"stderr_total_bytes", result.err.total_bytes},
      {"user_cpu_seconds", seconds(result.usage.user_cpu)},
      {"system_cpu_seconds", seconds(result.usage.system_cpu)},
      {"cpu_seconds", seconds(result.usage.user_cpu + result.usage.system_cpu)},
      {"max_rss_kb", result.usage.max_rss_kb},
      {"cancel_signal", result.reason == EndReason::cancelled ? cancel_signal : 0},
      {"containment", std::string(to_string(result.containment))},
      {"watchdog_error", result.watchdog_error},
      {"memory_enforcer", std::string(to_string(result.memory_enforcer))},
      {"limits_hit",
       {{"memory", result.limits_hit.memory},
        {"pids", result.limits_hit.pids},
        {"cpu", result.limits_hit.cpu},
        {"file_size", result.limits_hit.file_size},
        {"scratch", result.limits_hit.scratch}}},
  };
}

std::string result_to_json(const Result& result, int cancel_signal) {
  return result_json(result, cancel_signal).dump();
}

int exit_status(const Result& result, int cancel_signal) noexcept {
  if (result.reason == EndReason::cancelled && cancel_signal > 0) return 128 + cancel_signal;
  if (result.reason == EndReason::watchdog_failed) return 125;  // bounded-run could not do its job
  if (result.reason == EndReason::containment_broken) return 125;
  if (result.timeout || result.reason == EndReason::timeout) return 124;
  if (result.memory_limit_exceeded || result.reason == EndReason::memory_limit) return 137;
  if (result.term_signal > 0) return 128 + result.term_signal;
  if (result.reason == EndReason::cancelled) return 128 + 9;
  if (result.stdin_write_failed) return 255;
  if (result.exit_code < 0) return 128 - result.exit_code;  // a negative code is minus a signal number
  return result.exit_code & 0xff;
}

bool write_all(int fd, std::string_view data) noexcept {
  const char* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace bounded_subprocess::cli
