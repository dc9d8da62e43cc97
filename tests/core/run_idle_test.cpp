// Core tests of run(): the driver waits on events, so while the child is
// quiet the calling thread is asleep. A driver that kept an fd at EOF in
// its set (after the kept prefix is full the rest is spliced away, and the
// splice then sees the EOF), left a written stdin registered, or waited with
// a zero timeout would spin instead: about a second of CPU per second of
// wall time on a quiet machine. The bound (30% of the wall time) is far
// above what waiting costs and below what a spin costs unless the machine
// is heavily loaded; the system-call seam test counts the waits exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "handshake.hpp"
#include "leak_check.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;
using bs_test::misbehave;
using bs_test::misbehave_pattern;

namespace {

constexpr double kMaxCpuShare = 0.3;

struct Measured {
  bs::Result r;
  double cpu = 0;   // seconds of CPU this thread used during the run
  double wall = 0;  // seconds
};

Measured measure(const std::vector<std::string>& argv, const bs::Options& options) {
  Measured m;
  const double cpu0 = bs_test::thread_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  m.r = bs::run(argv, options);
  m.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  m.cpu = bs_test::thread_cpu_seconds() - cpu0;
  return m;
}

TEST(RunIdle, OutputsClosedPastTheBoundCostNoCpu) {
  bs_test::NoLeaks leaks;
  for (bool tail : {false, true}) {
    // 5000 bytes against a bound of 100: the rest is discarded (spliced to
    // /dev/null in prefix mode), then the child closes both outputs (EOF)
    // and sleeps a second.
    const Measured m = measure({misbehave(), "out-close-sleep", "5000", "1000"},
                               {.timeout = 30s, .max_output_size = 100, .tail = tail});
    EXPECT_EQ(m.r.exit_code, 0) << m.r;
    EXPECT_EQ(m.r.out.data, misbehave_pattern(tail ? 4900 : 0, 100)) << "tail=" << tail;
    EXPECT_EQ(m.r.err.data, misbehave_pattern(tail ? 4900 : 0, 100)) << "tail=" << tail;
    EXPECT_EQ(m.r.out.total_bytes, 5000u);
    EXPECT_EQ(m.r.err.total_bytes, 5000u);
    EXPECT_GE(m.wall, 0.95);
    EXPECT_LT(m.cpu, kMaxCpuShare * m.wall)
        << "tail=" << tail << ": " << m.cpu << " s of CPU over " << m.wall << " s: the driver spun";
  }
  leaks.expect_clean();
}

TEST(RunIdle, OutputsClosedWithinTheBoundCostNoCpu) {
  bs_test::NoLeaks leaks;
  const Measured m =
      measure({misbehave(), "out-close-sleep", "50", "1000"}, {.timeout = 30s, .max_output_size = 100});
  EXPECT_EQ(m.r.exit_code, 0) << m.r;
  EXPECT_EQ(m.r.out.data, misbehave_pattern(0, 50));
  EXPECT_GE(m.wall, 0.95);
  EXPECT_LT(m.cpu, kMaxCpuShare * m.wall) << m.cpu << " s of CPU over " << m.wall << " s: the driver spun";
  leaks.expect_clean();
}

TEST(RunIdle, QuietChildAndWrittenStdinCostNoCpu) {
  bs_test::NoLeaks leaks;
  // Open pipes and no output for a second.
  const Measured quiet = measure({misbehave(), "exit-after-ms", "1000", "0"}, {.timeout = 30s});
  EXPECT_EQ(quiet.r.exit_code, 0) << quiet.r;
  EXPECT_LT(quiet.cpu, kMaxCpuShare * quiet.wall) << quiet.cpu << " s of CPU over " << quiet.wall << " s";
  // stdin written whole, then nothing more happens until the deadline.
  const Measured fed =
      measure({misbehave(), "read-line-then-sleep"}, {.timeout = 2s, .stdin_data = std::string("line\n")});
  EXPECT_TRUE(fed.r.timeout) << fed.r;
  EXPECT_FALSE(fed.r.stdin_write_failed);
  EXPECT_EQ(fed.r.out.data, "line\n");
  EXPECT_LT(fed.cpu, kMaxCpuShare * fed.wall) << fed.cpu << " s of CPU over " << fed.wall << " s";
  leaks.expect_clean();
}

}  // namespace
