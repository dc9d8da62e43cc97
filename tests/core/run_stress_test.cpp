// Core tests of run(): many threads at once, and thousands of runs in a row
// without growth of fds, zombies or memory.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define BS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BS_TEST_ASAN 1
#endif
#endif
#ifdef BS_TEST_ASAN
// From <sanitizer/allocator_interface.h>, which g++ 12 on Debian lacks.
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;
using bs_test::misbehave_pattern;

namespace {

TEST(RunStress, EightThreadsAtOnce) {
  bs_test::NoLeaks leaks;
  constexpr int kThreads = 8;
  constexpr int kRunsPerThread = 6;
  std::atomic<int> failures{0};
  std::vector<std::vector<pid_t>> grandchildren(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &failures, &grandchildren] {
      for (int i = 0; i < kRunsPerThread; ++i) {
        // A grandchild holding the pipes, and output of a per-thread size.
        bs::Result g = bs::run({misbehave(), "fork-grandchild-sleep"}, {.timeout = 20s});
        auto pid = static_cast<pid_t>(bs_test::field_after(g.out.data, "grandchild"));
        if (g.exit_code != 0 || g.timeout || pid <= 0) ++failures;
        grandchildren[static_cast<std::size_t>(t)].push_back(pid);
        const auto n = static_cast<unsigned long long>(10000 * (t + 1) + i);
        bs::Result f = bs::run({misbehave(), "flood-out", std::to_string(n)},
                               {.timeout = 20s, .max_output_size = 777, .tail = (t % 2) == 1});
        bool ok = f.exit_code == 0 && f.out.total_bytes == n && f.out.truncated &&
                  f.out.data == misbehave_pattern(t % 2 ? n - 777 : 0, 777);
        if (!ok) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  std::vector<pid_t> all;
  for (const auto& v : grandchildren) all.insert(all.end(), v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kRunsPerThread));
  leaks.expect_clean({}, all);
}

// Memory in use by this process: the live heap under ASan (whose quarantine
// keeps freed blocks resident on purpose), VmRSS otherwise. In KiB.
long memory_in_use_kb() {
#ifdef BS_TEST_ASAN
  return static_cast<long>(__sanitizer_get_current_allocated_bytes() / 1024);
#else
  return bs_test::self_rss_kb();
#endif
}

TEST(RunStress, FiveThousandRunsStayFlat) {
  constexpr int kRuns = 5000;
  constexpr int kWarmup = 300;
  auto one = [](int i) {
    if (i % 10 == 0) {
      bs::Result r = bs::run({"cat"}, {.timeout = 10s, .stdin_data = "abc"});
      return r.exit_code == 0 && r.out.data == "abc";
    }
    bs::Result r = bs::run({"true"}, {.timeout = 10s});
    return r.exit_code == 0 && r.out.data.empty();
  };
  int failures = 0;
  bs_test::NoLeaks leaks;  // before the warm-up: its warm sandbox stays, and counts in `fds`
  for (int i = 0; i < kWarmup; ++i) failures += one(i) ? 0 : 1;
  const int fds = bs_test::count_open_fds();
  const long mem = memory_in_use_kb();
  for (int i = kWarmup; i < kRuns; ++i) {
    failures += one(i) ? 0 : 1;
    if (i % 1000 == 0) {
      ASSERT_EQ(bs_test::count_open_fds(), fds) << "fd growth by run " << i;
    }
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(bs_test::count_open_fds(), fds);
  EXPECT_EQ(bs_test::count_my_zombie_children(), 0);
  const long grown = memory_in_use_kb() - mem;
  std::printf("memory growth over %d runs: %ld KiB\n", kRuns - kWarmup, grown);
  EXPECT_LT(grown, 2 * 1024) << "memory grew by " << grown << " KiB";
  leaks.expect_clean();
}

}  // namespace
