// inherited_env (options.hpp), at the bottom: spawn/ builds a run's
// environment from it, and the command starts from it.
#include <string>
#include <string_view>

#include "bounded_subprocess/options.hpp"

extern char** environ;  // NOLINT: POSIX

namespace bounded_subprocess {

Environment inherited_env() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

}  // namespace bounded_subprocess
