// Python's signal handlers during the sync waits: the on_interrupt hook of
// Options (run and Interactive), so that Ctrl-C (or any handler that
// raises) ends a sync run or Interactive call at once instead of after its
// timeout.
#pragma once

namespace bounded_subprocess::python {

/// Records the interpreter's main thread (the only one that runs Python's
/// signal handlers). Once, at import, with the GIL.
void record_main_thread();

/// The on_interrupt hook. Called without the GIL, between exit_gate::enter
/// and leave (inside `without_gil`). In the main thread, takes the GIL and
/// runs the pending Python signal handlers; if one raises, throws
/// pybind11::error_already_set with that exception, which the library
/// propagates after it has killed and reaped the run (or, for an
/// Interactive, leaving the child to the object). In any other thread it
/// does nothing: Python runs handlers in the main thread only, which sees
/// the signal at its next check.
void run_python_signal_handlers();

}  // namespace bounded_subprocess::python
