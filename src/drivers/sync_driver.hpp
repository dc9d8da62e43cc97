// The sync driver of the engine: waits with ppoll on the calling thread and
// feeds the events to one Supervisor until the run is over. It drives any
// sink: it asks the Supervisor which fds it wants (a paused line sink is
// left out) and tells the entry point after each round of events, so that a line
// entry point can hand over the lines that completed. No Asio.
#pragma once

#include <functional>

#include "engine/supervisor.hpp"

namespace bounded_subprocess::detail {

/// Drives `sup` until `sup.done()`. `on_interrupt` (may be empty) is called
/// when a signal handler interrupted the wait; `on_progress` (may be empty)
/// after each round of events while the run goes on. Either may throw: the
/// exception leaves `drive_sync` with the run still going (the Supervisor's
/// destructor kills and reaps it). Throws std::system_error when ppoll
/// fails, and as Supervisor::on_child_exit does.
void drive_sync(Supervisor& sup, const std::function<void()>& on_interrupt,
                const std::function<void()>& on_progress);

}  // namespace bounded_subprocess::detail
