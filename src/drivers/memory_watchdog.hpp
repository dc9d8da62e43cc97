// The shared memory watchdog of the async entry points: one Asio service per
// execution context, holding every watched run of that context, with one
// timer. Each tick makes ONE pass (detail::sample_members) over all
// registered runs and hands each run its sample.
#pragma once

#include <sys/types.h>

#include <asio/any_io_executor.hpp>
#include <asio/execution_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "engine/proc_memory.hpp"

namespace bounded_subprocess::detail {

class MemoryWatchdog : public asio::execution_context::service {
 public:
  using key_type = MemoryWatchdog;
  static asio::execution_context::id id;
  using Clock = std::chrono::steady_clock;
  /// Receives one run's sample. Called on the watchdog's strand: it must
  /// only post to the run's own executor.
  using Sink = std::function<void(const MemorySample& sample)>;

  explicit MemoryWatchdog(asio::execution_context& ctx);

  /// The service of the execution context behind `ex`.
  static MemoryWatchdog& of(const asio::any_io_executor& ex);

  /// Registers a run's `members`, to be sampled at least every `interval`; the
  /// timer ticks at the smallest interval registered. Returns an entry key for
  /// `remove`. Thread-safe.
  std::uint64_t add(const asio::any_io_executor& ex, Members members, Clock::duration interval, Sink sink);
  /// Unregisters; no sample is delivered to `entry_key` once this returns (except
  /// one already being delivered on another thread: sinks must tolerate a
  /// late call). Thread-safe; unknown keys are ignored.
  void remove(std::uint64_t entry_key) noexcept;

  /// /proc scans made so far (for tests and benchmarks).
  std::uint64_t scans() const noexcept { return scans_.load(std::memory_order_relaxed); }
  /// Runs registered now.
  std::size_t watched() const;

 private:
  struct Entry {
    Members members;
    Clock::duration interval;
    Sink sink;
  };

  void shutdown() override;
  // On strand_: (re)arm the timer for the smallest interval, or stop it.
  void rearm();
  void on_tick();
  Clock::duration smallest_interval_locked() const;

  mutable std::mutex mutex_;
  std::map<std::uint64_t, Entry> entries_;
  std::uint64_t next_key_ = 1;
  bool shut_down_ = false;
  // Created at the first registration, from its executor; touched only on
  // strand_ (and in shutdown, when nothing runs any more).
  std::optional<asio::strand<asio::any_io_executor>> strand_;
  std::optional<asio::steady_timer> timer_;
  bool ticking_ = false;
  Clock::time_point armed_for_{};
  std::atomic<std::uint64_t> scans_{0};
};

}  // namespace bounded_subprocess::detail
