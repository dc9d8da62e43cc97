// What `bounded-run batch` shows on stderr: a live bar on a terminal, a plain
// line every few seconds otherwise, nothing with --quiet; and the summary.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "batch_options.hpp"
#include "bounded_subprocess/result.hpp"

namespace bounded_subprocess::cli {

/// How each finished job is counted.
enum class Verdict { ok, failed, timeout, memory, error, cancelled };

/// ok: exit code 0; failed: any other exit, a signal, an incomplete stdin
/// write; timeout, memory, cancelled: the result's reason.
Verdict verdict_of(const Result& result);

class Progress {
 public:
  /// `mode` automatic is a bar when stderr is a terminal, else lines.
  Progress(asio::io_context& io, ProgressMode mode, double interval_seconds, bool summary);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Jobs of this shard in all (results already in the output included);
  /// unknown until the input has been read when not given.
  void set_total(std::size_t total) { total_ = total; }
  /// Jobs skipped because their result was already in the output.
  void add_resumed() { ++resumed_; }
  void set_running(std::size_t running) { running_ = running; }
  /// A job's final line was written. `confirmed` is set for a job that was
  /// re-run alone after a timeout (true: it timed out again).
  void record(Verdict verdict, double elapsed_seconds, const std::string& id_text,
              std::optional<bool> confirmed = std::nullopt);

  /// Starts that lacked resources so far: `waits` that were tried again
  /// later, `gave_up` jobs written as resumable errors, the fewest jobs
  /// allowed at once since, and the first error's text.
  void note_resources(std::size_t waits, std::size_t gave_up, std::size_t lowest_parallel,
                      const std::string& why) {
    resource_waits_ = waits;
    resource_gave_up_ = gave_up;
    lowest_parallel_ = lowest_parallel;
    resource_why_ = why;
  }

  /// Starts the display (the clock of the rate and of the summary).
  void start();
  /// Stops the display and clears the bar; prints the summary unless quiet.
  void finish(int cancel_signal);

 private:
  void tick();
  void draw(bool force);
  std::string status_line() const;

  asio::steady_timer timer_;
  bool bar_ = false;
  bool lines_ = false;
  bool summary_ = true;
  std::chrono::duration<double> interval_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_;
  std::optional<std::size_t> total_;
  std::size_t resumed_ = 0;
  std::size_t running_ = 0;
  std::size_t done_ = 0;
  std::size_t counts_[6] = {};
  std::size_t confirmed_ = 0;
  std::size_t unconfirmed_ = 0;
  std::vector<std::pair<double, std::string>> slowest_;  // at most 5, slowest first
  bool stopped_ = false;
  std::size_t resource_waits_ = 0;
  std::size_t resource_gave_up_ = 0;
  std::size_t lowest_parallel_ = 0;
  std::string resource_why_;
};

}  // namespace bounded_subprocess::cli
