// Interpreter exit (see interpreter_exit.hpp).
#include "interpreter_exit.hpp"

#include <pthread.h>
#include <pybind11/pybind11.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "live_children.hpp"
#include "native.hpp"
#include "reactor.hpp"

namespace bounded_subprocess::python {

namespace {

// Never destroyed: parked and returning threads use them while exit() runs
// the static destructors.
struct Gate {
  std::mutex mu;
  std::condition_variable idle;
  bool exiting = false;        // the atexit hook has run
  pthread_t exiting_thread{};  // the thread that ran it, which may go on
  long coming_back = 0;        // threads between leave() and returned()
};
Gate& g = *new Gate;

[[noreturn]] void park() noexcept {
  for (;;) ::pause();  // until the process ends
}

bool must_park() noexcept {  // under g.mu
  return g.exiting && !::pthread_equal(g.exiting_thread, ::pthread_self());
}

}  // namespace

void exit_gate::enter() noexcept {
  std::unique_lock lock(g.mu);
  if (must_park()) {
    lock.unlock();
    park();
  }
}

void exit_gate::leave() noexcept {
  std::unique_lock lock(g.mu);
  if (must_park()) {
    lock.unlock();
    park();
  }
  ++g.coming_back;
}

void exit_gate::returned() noexcept {
  std::lock_guard lock(g.mu);
  if (--g.coming_back == 0) g.idle.notify_all();
}

void on_interpreter_exit() noexcept {
  {
    // Threads already past leave() take the GIL back now (we do not hold
    // it), before finalization can end them; later ones park. Bounded, in
    // case a thread holds the GIL in a call that never releases it.
    std::unique_lock lock(g.mu);
    g.exiting = true;
    g.exiting_thread = ::pthread_self();
    g.idle.wait_for(lock, std::chrono::seconds(5), [] { return g.coming_back == 0; });
  }
  kill_live_children(false);
  Reactor::shutdown_all();
}

void on_runtime_exit() noexcept {
  kill_live_children(true);
  Reactor::shutdown_all();
}

void install_exit_hooks() {
  install_live_children_fork_handlers();
  Reactor::install_fork_handlers();
  static std::once_flag once;
  std::call_once(once, [] {
    ::pthread_atfork([] { g.mu.lock(); }, [] { g.mu.unlock(); },
                     [] {
                       g.exiting = false;  // a child forked at exit starts afresh
                       g.coming_back = 0;  // the other threads are not here
                       g.mu.unlock();
                     });
  });
  // The atexit hook runs after the non-daemon threads are joined and before
  // finalization; Py_AtExit at the end of finalization, when no Python code
  // runs any more.
  pybind11::module_::import("atexit").attr("register")(
      pybind11::cpp_function([] { without_gil([] { on_interpreter_exit(); }); }));
  Py_AtExit(&on_runtime_exit);
}

}  // namespace bounded_subprocess::python
