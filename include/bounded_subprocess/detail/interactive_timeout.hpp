// Internal to the Interactive entry points: the check of an operation's timeout,
// shared by Interactive (compiled in the library) and the templates of
// AsyncInteractive (async_interactive.hpp). Users never name it.
#pragma once

#include "bounded_subprocess/options.hpp"

namespace bounded_subprocess::detail {

/// Throws std::invalid_argument naming `where` when `timeout` is negative or
/// NaN. An infinite timeout is allowed and means "no deadline".
void check_interactive_timeout(Seconds timeout, const char* where);

}  // namespace bounded_subprocess::detail
