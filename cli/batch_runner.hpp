// The scheduler of `bounded-run batch`: reads jobs as slots free up, starts
// them on one event loop within --parallel and --memory-budget-mb, writes
// each result as it ends, re-runs timeouts alone (--confirm-timeouts), and
// stops cleanly on a signal. Memory stays flat over any number of jobs: the
// input is streamed, finished results are not kept (timed-out jobs waiting
// for confirmation go to a temporary file), and only the 64-bit keys of ids
// are remembered (resume and duplicates).
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "batch_jobs.hpp"
#include "batch_options.hpp"
#include "batch_output.hpp"
#include "batch_progress.hpp"
#include "launch.hpp"

namespace bounded_subprocess::cli {

/// Flags of a key in the runner's KeySet.
inline constexpr std::uint8_t kKeyDone = 1;  ///< its result is in the output from an earlier run
inline constexpr std::uint8_t kKeySeen = 2;  ///< read in this run

class BatchRunner {
 public:
  /// `keys` holds the keys of finished results (kKeyDone) found by --resume.
  /// Everything passed must outlive the runner.
  BatchRunner(asio::io_context& io, const BatchConfig& config, LineReader& input, ResultSink& sink,
              KeySet& keys, Progress& progress);
  BatchRunner(const BatchRunner&) = delete;
  BatchRunner& operator=(const BatchRunner&) = delete;

  /// Starts reading and running; the work happens in `io.run()`, which
  /// returns once every job is done (or the batch was stopped) and the
  /// runner's waits are cancelled. `on_done` is called then, from the loop.
  void start(std::function<void()> on_done);

  /// SIGINT, SIGTERM...: stop starting jobs, cancel the running ones (their
  /// results are written as cancelled), write jobs waiting for confirmation
  /// as cancelled, then finish. Idempotent.
  void stop(int signo);

  /// 0, 128+signal, 125 after a fatal error (see error()), or 75 when some
  /// jobs could not start for lack of resources (their lines say
  /// "resumable": true; --resume runs them again).
  int exit_status() const;
  /// The fatal error that ended the batch (a result could not be written,
  /// the input could not be read), if any.
  const std::optional<std::string>& error() const { return fatal_; }
  int cancel_signal() const { return cancel_signal_; }

 private:
  struct Ready {
    nlohmann::json id;
    std::size_t line_no = 0;
    RunSpec spec;
    std::size_t memory_mb = 0;
    std::string raw;                                  // the line, kept for a confirmation re-run
    std::optional<nlohmann::ordered_json> first_run;  // set for a confirmation re-run
    unsigned waits = 0;                               // starts that lacked resources while jobs ran
    unsigned alone_tries = 0;                         // ... and while nothing ran
  };
  enum class Phase { main, confirm, done };

  void pump();
  bool read_one();
  std::string jobs_name() const;
  void on_line(const std::string& text, std::size_t line_no);
  std::optional<Ready> prepare(const Job& job, std::string raw);
  void start_job(Ready job);
  void on_finished(std::list<std::shared_ptr<Launch>>::iterator it, const Ready& job,
                   std::exception_ptr error, Result result);
  bool wait_for_resources(const Ready& job, const std::string& why);
  bool confirm_next();
  void drain_spill_as_cancelled();
  void write_result(const Ready& job, const Result& result);
  void write_error(const std::optional<nlohmann::json>& id, std::size_t line_no, const std::string& message,
                   bool resumable = false);
  void emit(const nlohmann::ordered_json& line);
  void fail(const std::string& message, bool output_broken);
  void maybe_finish();

  asio::io_context& io_;
  const BatchConfig& config_;
  LineReader& input_;
  ResultSink& sink_;
  KeySet& keys_;
  Progress& progress_;
  std::function<void()> on_done_;

  Phase phase_ = Phase::main;
  std::optional<Ready> next_;  // read, waiting for a slot or for memory
  // Jobs whose start lacked resources (fds, processes, memory), started
  // again before any new line: when a running job has ended, or after a
  // back-off when none was running.
  std::deque<Ready> retry_;
  asio::steady_timer backoff_;
  bool backoff_pending_ = false;
  bool resources_exhausted_ = false;  // a job failed alone every time: give up at once until one starts
  std::size_t limit_;                 // jobs at once: --parallel, lowered while resources lack
  std::size_t lowest_limit_;
  std::size_t since_cut_ = 0;  // jobs ended normally since limit_ was last changed
  std::size_t resource_waits_ = 0;
  std::size_t resource_gave_up_ = 0;
  std::string resource_why_;
  std::list<std::shared_ptr<Launch>> live_;
  std::size_t running_ = 0;
  std::size_t running_memory_mb_ = 0;
  std::size_t default_memory_mb_ = 0;
  std::size_t jobs_in_shard_ = 0;
  bool input_done_ = false;
  bool waiting_for_input_ = false;
  bool pumping_ = false;
  bool pump_again_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool output_broken_ = false;
  int cancel_signal_ = 0;
  std::optional<std::string> fatal_;
  std::unique_ptr<SpillFile> spill_;
  bool spill_rewound_ = false;
};

}  // namespace bounded_subprocess::cli
