#include "drivers/memory_watchdog.hpp"

#include <asio/post.hpp>
#include <asio/query.hpp>

#include <utility>
#include <vector>

#include "bounded_subprocess/async.hpp"
#include "engine/proc_memory.hpp"

namespace bounded_subprocess::detail {

asio::execution_context::id MemoryWatchdog::id;

MemoryWatchdog::MemoryWatchdog(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

MemoryWatchdog& MemoryWatchdog::of(const asio::any_io_executor& ex) {
  return asio::use_service<MemoryWatchdog>(asio::query(ex, asio::execution::context));
}

std::uint64_t MemoryWatchdog::add(const asio::any_io_executor& ex, Members members, Clock::duration interval,
                                  Sink sink) {
  std::optional<asio::strand<asio::any_io_executor>> strand;
  std::uint64_t entry_key = 0;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return 0;
    entry_key = next_key_++;
    entries_.emplace(entry_key, Entry{std::move(members), interval, std::move(sink)});
    if (!strand_) {
      strand_.emplace(asio::make_strand(ex));
      timer_.emplace(*strand_);
    }
    strand = strand_;
  }
  asio::post(*strand, [this] { rearm(); });
  return entry_key;
}

void MemoryWatchdog::remove(std::uint64_t entry_key) noexcept {
  if (entry_key == 0) return;
  std::lock_guard lock(mutex_);
  entries_.erase(entry_key);
  if (entries_.empty() && strand_ && !shut_down_) {
    // Stop the timer now, so that an idle context runs out of work at once
    // instead of at the next tick.
    try {
      asio::post(*strand_, [this] { rearm(); });
    } catch (...) {
      // Out of memory: the timer stops at its next tick instead.
    }
  }
}

std::size_t MemoryWatchdog::watched() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

MemoryWatchdog::Clock::duration MemoryWatchdog::smallest_interval_locked() const {
  Clock::duration smallest = Clock::duration::max();
  for (const auto& [entry_key, entry] : entries_) smallest = std::min(smallest, entry.interval);
  return smallest;
}

void MemoryWatchdog::rearm() {
  Clock::duration smallest;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_ || !timer_) return;
    smallest = smallest_interval_locked();
  }
  if (smallest == Clock::duration::max()) {
    // Nothing to watch: let the timer lapse (the context may then run out
    // of work and return).
    if (ticking_) timer_->cancel();
    ticking_ = false;
    return;
  }
  const Clock::time_point due = Clock::now() + smallest;
  if (ticking_ && armed_for_ <= due) return;  // the pending tick comes soon enough
  ticking_ = true;
  armed_for_ = due;
  timer_->expires_at(due);
  timer_->async_wait([this, due](const std::error_code& ec) {
    // A re-arm cancels the older wait; only the newest wait ticks.
    if (ec || due != armed_for_ || !ticking_) return;
    on_tick();
  });
}

void MemoryWatchdog::on_tick() {
  ticking_ = false;
  std::vector<Members> runs;
  std::vector<Sink> sinks;
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    runs.reserve(entries_.size());
    sinks.reserve(entries_.size());
    for (const auto& [entry_key, entry] : entries_) {
      runs.push_back(entry.members);
      sinks.push_back(entry.sink);
    }
  }
  if (!runs.empty()) {
    // One pass serves every watched run of this context.
    const std::vector<MemorySample> samples = sample_members(runs);
    scans_.fetch_add(1, std::memory_order_relaxed);
    for (std::size_t i = 0; i < sinks.size() && i < samples.size(); ++i) sinks[i](samples[i]);
  }
  rearm();
}

void MemoryWatchdog::shutdown() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    entries_.clear();
  }
  // Destroy the timer while the timer service still exists (services are
  // destroyed only after every one has been shut down).
  timer_.reset();
  strand_.reset();
}

std::uint64_t memory_watchdog_scans(asio::execution_context& ctx) {
  return asio::use_service<MemoryWatchdog>(ctx).scans();
}

}  // namespace bounded_subprocess::detail
