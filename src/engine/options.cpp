#include <cmath>
#include <stdexcept>
#include <string>

#include "bounded_subprocess/options.hpp"
#include "engine/supervisor.hpp"

namespace bounded_subprocess {

namespace detail {

namespace {
void require_positive(Seconds s, const char* what) {
  if (!std::isfinite(s.count()) || s.count() <= 0.0)
    throw std::invalid_argument(std::string(what) + " must be a positive, finite duration");
}
}  // namespace

void validate_run_options(const EngineOptions& options) {
  require_positive(options.timeout, "timeout");
  require_positive(options.stdin_write_timeout, "stdin_write_timeout");
  if (options.memory_limit_mb) {
    if (*options.memory_limit_mb == 0) throw std::invalid_argument("memory_limit_mb must be at least 1");
    if (*options.memory_limit_mb > (std::size_t{1} << 40))
      throw std::invalid_argument("memory_limit_mb is absurdly large");
    require_positive(options.memory_watchdog_interval, "memory_watchdog_interval");
    // Each tick reads /proc: a tiny interval would be a busy loop.
    if (options.memory_watchdog_interval < kMinWatchdogInterval)
      throw std::invalid_argument("memory_watchdog_interval must be at least 10 ms");
  }
  if (options.containment && *options.containment < options.min_containment)
    throw std::invalid_argument("containment '" + std::string(to_string(*options.containment)) +
                                "' is weaker than min_containment '" +
                                std::string(to_string(options.min_containment)) + "'");
  if (options.stdin_data && options.stdin_data->size() > (std::size_t{1} << 40))
    throw std::invalid_argument("stdin_data is too large");
}

}  // namespace detail
}  // namespace bounded_subprocess
