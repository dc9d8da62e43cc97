// Interrupting a sync Interactive: close() from another thread ends a
// pending read_line or write at once, and a signal handler that runs while
// a call waits lets on_interrupt abandon that call.
#include <pthread.h>
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

#include "bounded_subprocess/interactive.hpp"
#include "leak_check.hpp"

namespace {

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

// A child that neither reads its stdin nor writes: a read waits for a line
// that never comes, a write of more than a pipe holds waits for room.
std::vector<std::string> silent_child() {
  return {bs_test::misbehave(), "sleep-forever"};
}

TEST(InteractiveInterrupt, CloseFromAnotherThreadEndsPendingReadAndWrite) {
  bs_test::NoLeaks leaks;
  bs::Interactive proc(silent_child());
  const pid_t pid = proc.pid();
  const double forever = std::numeric_limits<double>::infinity();
  auto read = std::async(std::launch::async, [&] { return proc.read_line(bs::Seconds(forever)); });
  auto write = std::async(std::launch::async,
                          [&] { return proc.write(std::string(4 << 20, 'x'), bs::Seconds(forever)); });
  // Whether or not they are already waiting, close ends them: at once, not
  // at a timeout (there is none).
  EXPECT_EQ(proc.close(0.1s), -9);
  ASSERT_EQ(read.wait_for(30s), std::future_status::ready) << "read_line was not interrupted";
  ASSERT_EQ(write.wait_for(30s), std::future_status::ready) << "write was not interrupted";
  EXPECT_FALSE(read.get().has_value());
  EXPECT_FALSE(write.get());
  EXPECT_FALSE(proc.read_line(1s).has_value());
  EXPECT_FALSE(proc.write("x", 1s));
  leaks.expect_clean({pid});
}

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Installs a SIGUSR1 handler without SA_RESTART for the test's life (a host
// like Python does that for SIGINT), restoring the old one after.
class Sigusr1Handler {
 public:
  Sigusr1Handler() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { hits.fetch_add(1); };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &old_);
  }
  ~Sigusr1Handler() { sigaction(SIGUSR1, &old_, nullptr); }
  static inline std::atomic<int> hits{0};

 private:
  struct sigaction old_ {};
};

// Sends SIGUSR1 to `thread` every 50 ms until stopped (a lone signal could
// arrive before the call starts waiting).
class Pester {
 public:
  explicit Pester(pthread_t thread)
      : worker_([this, thread] {
          while (!stop_.load()) {
            pthread_kill(thread, SIGUSR1);
            std::this_thread::sleep_for(50ms);
          }
        }) {}
  ~Pester() {
    stop_.store(true);
    worker_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread worker_;
};

TEST(InteractiveInterrupt, OnInterruptCanAbandonAWaitingReadLine) {
  Sigusr1Handler handler;
  bs_test::NoLeaks leaks;
  pid_t pid = -1;
  {
    bs::Interactive proc(silent_child(), {.on_interrupt = [] {
                           if (Sigusr1Handler::hits.load() > 0) throw Interrupted();
                         }});
    pid = proc.pid();
    const auto t0 = std::chrono::steady_clock::now();
    Pester pester(pthread_self());
    EXPECT_THROW(proc.read_line(bs::Seconds(std::numeric_limits<double>::infinity())), Interrupted);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
    EXPECT_TRUE(proc.is_running()) << "abandoning a read does not end the child";
  }  // the destructor kills and reaps it
  leaks.expect_clean({pid});
}

}  // namespace
