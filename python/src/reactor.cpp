// The shared io_context thread of the native module (see reactor.hpp).
#include "reactor.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <utility>

namespace bounded_subprocess::python {

namespace {

std::mutex g_mu;
Reactor* g_reactor = nullptr;  // never deleted: see Reactor::shutdown_all

}  // namespace

Reactor::Reactor() : work_(asio::make_work_guard(io_)), owner_(::getpid()) {
  // The thread starts with every signal blocked, so that signals meant for
  // Python (SIGINT: KeyboardInterrupt) interrupt the Python threads, never it.
  sigset_t all, old;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] {
    for (;;) {
      try {
        io_.run();
        return;
      } catch (...) {
        // A handler threw: our handlers catch everything, so this is a bug
        // elsewhere; keep the loop alive for the other operations.
      }
    }
  });
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

Reactor& Reactor::instance() {
  std::lock_guard lock(g_mu);
  if (g_reactor == nullptr || g_reactor->owner_ != ::getpid()) {
    // After a fork the old reactor (whose thread is gone) is abandoned.
    g_reactor = new Reactor();
  }
  return *g_reactor;
}

std::uint64_t Reactor::remember(std::function<void()> on_shutdown) {
  const std::uint64_t id = next_id_++;
  on_shutdown_.emplace(id, std::move(on_shutdown));
  return id;
}

void Reactor::forget(std::uint64_t id) {
  on_shutdown_.erase(id);
}

void Reactor::end_op() {
  if (--ops_ == 0) {
    std::lock_guard lock(mu_);
    idle_.notify_all();
  }
}

void Reactor::shutdown() {
  // Run the shutdown actions on the reactor's thread, then wait for the
  // operations they end (a cancelled run completes once its child is reaped).
  auto called = std::make_shared<std::promise<void>>();
  post([this, called] {
    auto actions = std::move(on_shutdown_);
    on_shutdown_.clear();
    for (auto& [id, action] : actions) {
      try {
        action();
      } catch (...) {
      }
    }
    called->set_value();
  });
  auto f = called->get_future();
  f.wait_for(std::chrono::seconds(10));
  {
    std::unique_lock lock(mu_);
    idle_.wait_for(lock, std::chrono::seconds(10), [this] { return ops_.load() <= 0; });
  }
  work_.reset();
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

void Reactor::install_fork_handlers() {
  static std::once_flag once;
  std::call_once(once,
                 [] { ::pthread_atfork([] { g_mu.lock(); }, [] { g_mu.unlock(); }, [] { g_mu.unlock(); }); });
}

void Reactor::shutdown_all() {
  Reactor* r = nullptr;
  {
    std::lock_guard lock(g_mu);
    if (g_reactor == nullptr || g_reactor->owner_ != ::getpid()) return;
    r = std::exchange(g_reactor, nullptr);
  }
  // The io_context is not destroyed: objects still referenced from Python
  // may hold descriptors registered with it. The process is ending.
  r->shutdown();
}

}  // namespace bounded_subprocess::python
