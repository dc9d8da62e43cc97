// Interpreter exit, for the native module: the hooks that kill what is still
// running, and the gate that keeps threads coming back from C++ away from a
// finalizing interpreter.
//
// CPython ends a thread that takes the GIL back while the interpreter
// finalizes (pthread_exit from PyEval_RestoreThread). When that thread comes
// back from one of our functions, the unwinding crosses pybind11's frames,
// whose destructors drop Python references without the GIL: a crash at exit.
// So once the atexit hook has run, a thread other than the exiting one that
// comes back from C++ (its child was just killed) or calls in never touches
// Python again: it parks until the process ends.
#pragma once

namespace bounded_subprocess::python {

/// The atexit hook: kills every live child (live_children.hpp), cancels the
/// reactor's operations, and closes the gate. Call without the GIL.
void on_interpreter_exit() noexcept;

/// The Py_AtExit hook, at the very end of finalization: kills again, and
/// from then on every child at birth.
void on_runtime_exit() noexcept;

/// Installs both hooks and the fork handlers. Once, at import, with the GIL.
void install_exit_hooks();

namespace exit_gate {
/// Called without the GIL before a native call: parks the thread for good
/// if the interpreter is exiting and it is not the exiting thread.
void enter() noexcept;
/// Called without the GIL before taking it back: parks the thread for good
/// as `enter` does; else counts it as coming back until `returned()`.
void leave() noexcept;
/// Called with the GIL taken back.
void returned() noexcept;
}  // namespace exit_gate

}  // namespace bounded_subprocess::python
