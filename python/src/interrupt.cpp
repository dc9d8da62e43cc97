// Python's signal handlers during the sync waits (see interrupt.hpp).
#include "interrupt.hpp"

#include <pthread.h>
#include <pybind11/pybind11.h>

#include <atomic>
#include <mutex>

#include "interpreter_exit.hpp"

namespace bounded_subprocess::python {

namespace {

std::atomic<unsigned long> g_main_thread{0};

}  // namespace

void record_main_thread() {
  const pybind11::object main = pybind11::module_::import("threading").attr("main_thread")();
  g_main_thread.store(main.attr("ident").cast<unsigned long>());
  // In a child of os.fork() the forking thread is the main thread.
  static std::once_flag once;
  std::call_once(once, [] {
    ::pthread_atfork(nullptr, nullptr, [] { g_main_thread.store(PyThread_get_thread_ident()); });
  });
}

void run_python_signal_handlers() {
  // Elsewhere PyErr_CheckSignals does nothing: spare the GIL hand-off.
  if (PyThread_get_thread_ident() != g_main_thread.load()) return;
  // Taking the GIL back the way `without_gil` does, so that a finalizing
  // interpreter never sees this thread (see interpreter_exit.hpp).
  exit_gate::leave();
  const PyGILState_STATE gil = PyGILState_Ensure();
  exit_gate::returned();
  if (PyErr_CheckSignals() != 0) {
    pybind11::error_already_set raised;  // takes the handler's exception
    PyGILState_Release(gil);
    exit_gate::enter();
    throw raised;
  }
  PyGILState_Release(gil);
  exit_gate::enter();
}

}  // namespace bounded_subprocess::python
