// Options::on_interrupt: a signal handler that runs while `run` waits
// gives the caller a say; throwing abandons the run, which is killed and
// reaped before the exception leaves `run`.
#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "bounded_subprocess/run.hpp"
#include "leak_check.hpp"

namespace {

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

std::atomic<int> g_hits{0};

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

TEST(RunInterrupt, OnInterruptAbandonsTheRunAndLeavesNothing) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = [](int) { g_hits.fetch_add(1); };  // no SA_RESTART, as Python's
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  bs_test::NoLeaks leaks;
  std::atomic<bool> stop{false};
  const pthread_t me = pthread_self();
  std::thread pester([&] {
    while (!stop.load()) {  // until the run gives up (a lone signal could come too early)
      pthread_kill(me, SIGUSR1);
      std::this_thread::sleep_for(50ms);
    }
  });
  int calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(bs::run({bs_test::misbehave(), "escape", "setsid", "sleep"}, {.timeout = 60s,
                                                                             .on_interrupt =
                                                                                 [&] {
                                                                                   ++calls;
                                                                                   if (g_hits.load() > 0)
                                                                                     throw Interrupted();
                                                                                 }}),
               Interrupted);
  stop.store(true);
  pester.join();
  sigaction(SIGUSR1, &old, nullptr);
  EXPECT_GE(calls, 1);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0)
      << "the run went on to its deadline";
  leaks.expect_clean();  // the child and its escapee are gone
}

}  // namespace
