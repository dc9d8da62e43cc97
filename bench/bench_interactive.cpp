// Section for Interactive and AsyncInteractive: round trips of one line
// through `cat`, against a bare blocking write/read ping-pong over pipes,
// with `cat` on the caller's CPU and then on another.
#include <sched.h>

#include <asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "bare.hpp"
#include "bench_util.hpp"
#include "bounded_subprocess/async_interactive.hpp"
#include "bounded_subprocess/interactive.hpp"
#include "sections.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace bsbench {
namespace {

const std::string kLine = "bounded_subprocess round trip 0123456789";

// `left` round trips, each a write then a read, chained by plain callbacks
// (the cheapest completion token; coroutines add their own frame costs).
struct AsyncTrips {
  bs::AsyncInteractive& proc;
  int left;
  int ok = 0;

  void next() {
    if (left-- == 0) return;
    proc.async_write(kLine + "\n", 5s, [this](std::error_code write_error, std::size_t) {
      proc.async_read_line(5s, [this, write_error](std::error_code read_error, std::string line) {
        if (!write_error && !read_error && line == kLine) ++ok;
        next();
      });
    });
  }
};

}  // namespace

namespace {

// This thread (and what it spawns from now on) on one CPU only.
bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return ::sched_setaffinity(0, sizeof set, &set) == 0;
}

// Round trips through three `cat`s (Interactive, AsyncInteractive, bare
// pipes), interleaved, the cats started on CPU `cat_cpu` and this thread
// then on `host_cpu`. `name` prefixes the figures.
void round_trips(const std::string& name, int cat_cpu, int host_cpu) {
  if (!pin_to(cat_cpu)) fail("sched_setaffinity");
  const int batch = 200;
  bs::Interactive sync_cat({"cat"});
  asio::io_context ctx;
  bs::AsyncInteractive async_cat(ctx, {"cat"});
  BareCat bare_cat;
  if (!pin_to(host_cpu)) fail("sched_setaffinity");

  auto sync_fn = [&] {
    int ok = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) {
      const bool wrote = static_cast<bool>(sync_cat.write(kLine + "\n", 5s));
      const auto line = sync_cat.read_line(5s);
      if (wrote && line && *line == kLine) ++ok;
    }
    const double us = ms_since(t0) * 1000.0 / batch;
    if (ok != batch) fail("Interactive round trips: " + std::to_string(ok) + " of " + std::to_string(batch));
    return us;
  };
  auto async_fn = [&] {
    AsyncTrips trips{async_cat, batch};
    const auto t0 = Clock::now();
    trips.next();
    ctx.restart();
    ctx.run();
    const double us = ms_since(t0) * 1000.0 / batch;
    const int ok = trips.ok;
    if (ok != batch)
      fail("AsyncInteractive round trips: " + std::to_string(ok) + " of " + std::to_string(batch));
    return us;
  };
  auto floor_fn = [&] {
    int ok = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) ok += bare_cat.round_trip(kLine + "\n") ? 1 : 0;
    const double us = ms_since(t0) * 1000.0 / batch;
    if (ok != batch) fail("bare round trips: " + std::to_string(ok) + " of " + std::to_string(batch));
    return us;
  };
  const auto s = interleave(scaled(25), {sync_fn, async_fn, floor_fn});
  const double sy = median(s[0]), as = median(s[1]), fl = median(s[2]);
  figure(name + "_roundtrip_us", sy, 1);
  figure(name + "_async_roundtrip_us", as, 1);
  figure(name + "_roundtrip_floor_us", fl, 1);
  figure(name + "_roundtrip_ratio", sy / fl);
  figure(name + "_async_roundtrip_ratio", as / fl);
  goal(name + "_roundtrip_ratio", sy / fl, 1.5);
  goal(name + "_async_roundtrip_ratio", as / fl, 1.5);

  const int code = sync_cat.close(5s);
  int async_code = -100;
  async_cat.async_close(5s, [&](std::error_code, int c) { async_code = c; });
  ctx.restart();
  ctx.run();
  if (code != 0 || async_code != 0) {
    fail("cat close codes " + std::to_string(code) + " / " + std::to_string(async_code));
  }
}

}  // namespace

// A round trip costs what the scheduler makes it: with `cat` on the same
// CPU a write hands the CPU over directly (a few microseconds); on another
// CPU each direction wakes it with an interrupt (tens of microseconds on a
// VM). Left to the scheduler, the sides of one run land either way, so each
// placement is measured on its own, every side placed alike.
void section_interactive() {
  cpu_set_t before;
  if (::sched_getaffinity(0, sizeof before, &before) != 0) fail("sched_getaffinity");
  int cpus[2] = {-1, -1};
  for (int c = 0, found = 0; c < CPU_SETSIZE && found < 2; ++c)
    if (CPU_ISSET(c, &before)) cpus[found++] = c;
  note("interactive: `interactive_*` with cat on this thread's CPU, `interactive_apart_*` on another");
  round_trips("interactive", cpus[0], cpus[0]);
  if (cpus[1] >= 0) round_trips("interactive_apart", cpus[1], cpus[0]);
  ::sched_setaffinity(0, sizeof before, &before);
}

}  // namespace bsbench
