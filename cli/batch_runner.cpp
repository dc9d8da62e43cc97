#include "batch_runner.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <new>
#include <system_error>
#include <utility>

#include "bounded_subprocess/spawn_error.hpp"
#include "report.hpp"

namespace bounded_subprocess::cli {

namespace {

// Lines handled in one turn of the loop before it serves signals and jobs
// (a --resume over a long input skips lines quickly).
constexpr std::size_t kLinesPerTurn = 4096;

std::string dump(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

// A job whose start waited for a running job to end this many times is
// written as not started (resumable); alone, it is tried this many times,
// after 0.1, 0.2, 0.4 and 0.8 s.
constexpr unsigned kMaxWaits = 16;
constexpr unsigned kAloneTries = 4;
constexpr std::chrono::milliseconds kFirstBackoff{100};

// Why the start failed when it was for lack of the batch's resources (fds,
// processes, memory, a count the kernel limits, the run's cgroup removed
// under it), which another try can cure; nullopt for any other error.
std::optional<std::string> lack_of_resources(const std::exception_ptr& error) {
  auto scarce = [](int err) {
    return err == EMFILE || err == ENFILE || err == EAGAIN || err == ENOMEM || err == ENOBUFS ||
           err == ENOSPC;
  };
  try {
    std::rethrow_exception(error);
  } catch (const SpawnError& e) {
    const int err = e.code().value();
    // ENOENT while preparing the child or its containment (not the program
    // or the cwd, which have subjects of their own): the run's cgroup was
    // removed under it.
    const bool removed = err == ENOENT && (e.subject() == SpawnError::Subject::containment ||
                                           e.subject() == SpawnError::Subject::system);
    if (scarce(err) || removed) return e.code().message();
  } catch (const std::system_error& e) {
    if ((e.code().category() == std::generic_category() || e.code().category() == std::system_category()) &&
        scarce(e.code().value()))
      return e.code().message();
  } catch (const std::bad_alloc&) {
    return std::string("out of memory");
  } catch (...) {
  }
  return std::nullopt;
}

bool blank(const std::string& text) {
  return text.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

}  // namespace

BatchRunner::BatchRunner(asio::io_context& io, const BatchConfig& config, LineReader& input, ResultSink& sink,
                         KeySet& keys, Progress& progress)
    : io_(io),
      config_(config),
      input_(input),
      sink_(sink),
      keys_(keys),
      progress_(progress),
      backoff_(io),
      limit_(config.parallel),
      lowest_limit_(config.parallel) {
  if (config_.memory_budget_mb) {
    default_memory_mb_ = std::max<std::size_t>(1, *config_.memory_budget_mb / config_.parallel);
  }
}

void BatchRunner::start(std::function<void()> on_done) {
  on_done_ = std::move(on_done);
  asio::post(io_, [this] { pump(); });
}

void BatchRunner::pump() {
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    std::size_t lines = 0;
    while (!stopping_ && phase_ != Phase::done && !backoff_pending_) {
      if (!retry_.empty() || next_) {
        Ready& first = !retry_.empty() ? retry_.front() : *next_;
        if (running_ >= limit_) break;
        if (config_.memory_budget_mb && running_ > 0 &&
            running_memory_mb_ + first.memory_mb > *config_.memory_budget_mb) {
          break;  // waits for running jobs to end (in input order: a big job is not starved)
        }
        Ready job = std::move(first);
        if (!retry_.empty()) {
          retry_.pop_front();
        } else {
          next_.reset();
        }
        start_job(std::move(job));
        continue;
      }
      if (phase_ != Phase::main || input_done_ || running_ >= limit_) break;
      if (++lines > kLinesPerTurn) {
        asio::post(io_, [this] { pump(); });
        break;
      }
      if (!read_one()) break;
    }
  } while (pump_again_);
  pumping_ = false;
  maybe_finish();
}

std::string BatchRunner::jobs_name() const {
  return config_.input == "-" ? std::string("JOBS '-' (stdin)") : "JOBS '" + config_.input + "'";
}

bool BatchRunner::read_one() {
  std::string text;
  std::size_t line_no = 0;
  LineReader::Got got;
  try {
    got = input_.next(text, line_no);
  } catch (const std::system_error& e) {
    fail("cannot read " + jobs_name() + ": " + e.code().message(), false);
    return false;
  }
  switch (got) {
    case LineReader::Got::line: on_line(text, line_no); return true;
    case LineReader::Got::too_long:
      if (config_.shard.count > 1 && (line_no - 1) % config_.shard.count != config_.shard.index) return true;
      ++jobs_in_shard_;
      if (keys_.get(line_key(line_no)) & kKeyDone) {
        progress_.add_resumed();
      } else {
        write_error(std::nullopt, line_no, "line " + std::to_string(line_no) + " is longer than 64 MiB");
      }
      return true;
    case LineReader::Got::endless:
      fail(jobs_name() + ": line " + std::to_string(line_no) + " has no end of line after " +
               std::to_string(2 * (kMaxJobLine >> 20)) + " MiB (lines may be up to " +
               std::to_string(kMaxJobLine >> 20) + " MiB): not a file of JSON lines",
           false);
      return false;
    case LineReader::Got::eof:
      input_done_ = true;
      progress_.set_total(jobs_in_shard_);
      return true;
    case LineReader::Got::wait:
      if (!waiting_for_input_) {
        waiting_for_input_ = true;
        input_.async_wait([this](std::error_code ec) {
          waiting_for_input_ = false;
          if (!ec) pump();
        });
      }
      return false;
  }
  return false;
}

void BatchRunner::on_line(const std::string& text, std::size_t line_no) {
  if (blank(text)) return;
  const Shard& shard = config_.shard;
  if (shard.count > 1) {
    std::uint64_t position = line_no - 1;
    if (shard.by == Shard::By::id) {
      auto id = peek_id(text);
      position = id ? id_key(*id) : line_key(line_no);
    }
    if (position % shard.count != shard.index) return;
  }
  ++jobs_in_shard_;
  auto parsed = parse_job(text, line_no);
  if (auto* bad = std::get_if<BadLine>(&parsed)) {
    std::optional<nlohmann::json> id = bad->id;
    // An id already taken by another line is not repeated in the output.
    if (id && (keys_.add(id_key(*id), kKeySeen) & kKeySeen)) id.reset();
    if (keys_.get(id ? id_key(*id) : line_key(line_no)) & kKeyDone) {
      progress_.add_resumed();
      return;
    }
    write_error(id, line_no, bad->error);
    return;
  }
  const Job& job = std::get<Job>(parsed);
  const std::uint8_t before = keys_.add(id_key(job.id), kKeySeen);
  if (before & kKeySeen) {
    if (keys_.get(line_key(line_no)) & kKeyDone) {
      progress_.add_resumed();
    } else {
      write_error(std::nullopt, line_no, "duplicate id " + job.id.dump() + ": an earlier line has it");
    }
    return;
  }
  if (before & kKeyDone) {
    progress_.add_resumed();
    return;
  }
  next_ = prepare(job, config_.confirm_timeouts ? text : std::string());
}

std::optional<BatchRunner::Ready> BatchRunner::prepare(const Job& job, std::string raw) {
  Ready ready{job.id, job.line_no, {}, 0, std::move(raw), std::nullopt};
  try {
    ready.spec = merge(config_.defaults, job.settings).spec;
  } catch (const UsageError& e) {
    write_error(job.id, job.line_no, e.what());
    return std::nullopt;
  }
  if (ready.spec.stdin_file == "-") {
    write_error(job.id, job.line_no,
                "field 'stdin_file': '-' (bounded-run's stdin) cannot feed a batch's jobs");
    return std::nullopt;
  }
  ready.memory_mb = ready.spec.memory_limit_mb.value_or(default_memory_mb_);
  if (config_.memory_budget_mb && ready.memory_mb > *config_.memory_budget_mb) {
    write_error(job.id, job.line_no,
                "memory_limit_mb " + std::to_string(ready.memory_mb) + " is above --memory-budget-mb " +
                    std::to_string(*config_.memory_budget_mb) + ": the job can never start");
    return std::nullopt;
  }
  return ready;
}

void BatchRunner::start_job(Ready job) {
  ++running_;
  running_memory_mb_ += job.memory_mb;
  progress_.set_running(running_);
  auto shared = std::make_shared<const Ready>(std::move(job));
  auto it = live_.emplace(live_.end());
  // Launch calls back through the loop, never from within start().
  *it = Launch::start(io_.get_executor(), shared->spec,
                      [this, it, shared](std::exception_ptr error, Result result) {
                        on_finished(it, *shared, std::move(error), std::move(result));
                      });
}

void BatchRunner::on_finished(std::list<std::shared_ptr<Launch>>::iterator it, const Ready& job,
                              std::exception_ptr error, Result result) {
  // Only a start that failed is tried again: a program that started may
  // have done part of its work.
  const bool started = *it && (*it)->program_started();
  live_.erase(it);
  --running_;
  running_memory_mb_ -= job.memory_mb;
  progress_.set_running(running_);
  const std::optional<std::string> scarce =
      error && !started && !stopping_ ? lack_of_resources(error) : std::nullopt;
  if (scarce && wait_for_resources(job, *scarce)) {
    pump();
    return;
  }
  if (!scarce) {
    resources_exhausted_ = false;
    if (limit_ < config_.parallel && ++since_cut_ >= limit_) {  // try one more at once again
      ++limit_;
      since_cut_ = 0;
    }
  }
  if (scarce) {
    ++resource_gave_up_;
    write_error(
        job.id, job.line_no,
        message_of(error) + " (bounded-run lacked resources to start the job; --resume runs it again)",
        /*resumable=*/true);
  } else if (error) {
    write_error(job.id, job.line_no, message_of(error));
  } else if (config_.confirm_timeouts && !job.first_run && result.reason == EndReason::timeout) {
    try {
      if (!spill_) spill_ = std::make_unique<SpillFile>();
      spill_->append(dump(nlohmann::ordered_json{
          {"line", job.line_no}, {"job", job.raw}, {"first", result_json(result, 0)}}));
    } catch (const std::system_error& e) {
      fail(e.what(), false);
      write_result(job, result);  // the first outcome is not lost
    }
  } else {
    write_result(job, result);
  }
  pump();
}

bool BatchRunner::wait_for_resources(const Ready& job, const std::string& why) {
  if (resource_why_.empty()) resource_why_ = why;
  Ready again = job;
  if (running_ > 0) {
    // Others hold what this one lacked: at most as many at once as now
    // run, and this job starts again (first) when one of them has ended.
    if (++again.waits > kMaxWaits) return false;
    limit_ = running_;
    since_cut_ = 0;
  } else {
    // Nothing of this batch holds it: wait a little, a few times; once a job
    // has failed alone every time, the others give up at once until a job
    // starts again.
    if (resources_exhausted_) return false;
    if (again.alone_tries >= kAloneTries) {
      resources_exhausted_ = true;
      return false;
    }
    const auto delay = kFirstBackoff * (1u << again.alone_tries);
    ++again.alone_tries;
    limit_ = 1;
    since_cut_ = 0;
    backoff_pending_ = true;
    backoff_.expires_after(delay);
    backoff_.async_wait([this](std::error_code ec) {
      if (ec) return;  // cancelled by stop()
      backoff_pending_ = false;
      pump();
    });
  }
  lowest_limit_ = std::min(lowest_limit_, limit_);
  ++resource_waits_;
  progress_.note_resources(resource_waits_, resource_gave_up_, lowest_limit_, resource_why_);
  // In the order they failed; a job tried alone is tried again first, so
  // that its back-off is its own, not a turn of every waiting job.
  if (running_ > 0) {
    retry_.push_back(std::move(again));
  } else {
    retry_.push_front(std::move(again));
  }
  return true;
}

bool BatchRunner::confirm_next() {
  while (!stopping_) {
    std::optional<std::string> record;
    try {
      record = spill_->next();
    } catch (const std::system_error& e) {
      fail(e.what(), false);
      return false;
    }
    if (!record) return false;
    auto r = nlohmann::ordered_json::parse(*record, nullptr, false);
    const std::string raw = r.value("job", std::string());
    auto parsed = parse_job(raw, r.value("line", std::size_t{0}));
    if (!std::holds_alternative<Job>(parsed)) continue;  // cannot happen: it ran before
    auto ready = prepare(std::get<Job>(parsed), std::string());
    if (!ready) continue;
    ready->first_run = r["first"];
    start_job(std::move(*ready));
    return true;
  }
  return false;
}

void BatchRunner::drain_spill_as_cancelled() {
  if (!spill_ || spill_->records() == 0) return;
  try {
    if (!spill_rewound_) spill_->rewind();
    spill_rewound_ = true;
    while (auto record = spill_->next()) {
      auto r = nlohmann::ordered_json::parse(*record, nullptr, false);
      Ready job;
      job.line_no = r.value("line", std::size_t{0});
      job.id = peek_id(r.value("job", std::string())).value_or(nlohmann::json());
      job.first_run = r["first"];
      Result cancelled;
      cancelled.exit_code = -1;
      cancelled.reason = EndReason::cancelled;
      write_result(job, cancelled);
    }
  } catch (const std::system_error& e) {
    fail(e.what(), false);
  }
}

void BatchRunner::write_result(const Ready& job, const Result& result) {
  nlohmann::ordered_json line{{"id", job.id}};
  const nlohmann::ordered_json fields = result_json(result, cancel_signal_);
  for (const auto& [key, value] : fields.items()) line[key] = value;
  std::optional<bool> confirmed;
  if (job.first_run) {
    if (result.reason != EndReason::cancelled) {
      confirmed = result.reason == EndReason::timeout;
      line["timeout_confirmed"] = *confirmed;
    }
    line["first_run"] = *job.first_run;
  }
  emit(line);
  progress_.record(verdict_of(result), result.elapsed.count(), job.id.dump(), confirmed);
}

void BatchRunner::write_error(const std::optional<nlohmann::json>& id, std::size_t line_no,
                              const std::string& message, bool resumable) {
  nlohmann::ordered_json line;
  if (id) line["id"] = *id;
  line["line"] = line_no;
  line["exit_code"] = -1;
  line["reason"] = "error";
  line["error"] = message;
  if (resumable) {
    line["resumable"] = true;
    progress_.note_resources(resource_waits_, resource_gave_up_, lowest_limit_, resource_why_);
  }
  emit(line);
  progress_.record(Verdict::error, 0.0, id ? id->dump() : "line " + std::to_string(line_no));
}

void BatchRunner::emit(const nlohmann::ordered_json& line) {
  if (output_broken_) return;
  try {
    sink_.write_line(dump(line));
  } catch (const std::system_error& e) {
    fail(e.what(), true);
  }
}

void BatchRunner::fail(const std::string& message, bool output_broken) {
  if (!fatal_) fatal_ = message;
  output_broken_ = output_broken_ || output_broken;
  stop(0);
}

void BatchRunner::stop(int signo) {
  if (cancel_signal_ == 0 && !stopping_) cancel_signal_ = signo;
  if (stopping_) return;
  stopping_ = true;
  next_.reset();  // never started: no result, --resume runs it
  retry_.clear();
  backoff_pending_ = false;
  backoff_.cancel();
  input_.cancel();
  for (auto& launch : live_) {
    if (launch) launch->cancel();
  }
  if (!pumping_) maybe_finish();
}

void BatchRunner::maybe_finish() {
  if (finished_ || running_ > 0) return;
  if (!stopping_) {
    if (!retry_.empty() || backoff_pending_) return;
    if (phase_ == Phase::main) {
      if (!input_done_ || next_) return;
      if (spill_ && spill_->records() > 0) {
        try {
          spill_->rewind();
          spill_rewound_ = true;
          phase_ = Phase::confirm;
        } catch (const std::system_error& e) {
          fail(e.what(), false);
        }
      }
    }
    if (phase_ == Phase::confirm && !stopping_ && confirm_next()) return;
  }
  if (stopping_) drain_spill_as_cancelled();
  phase_ = Phase::done;
  finished_ = true;
  input_.cancel();
  if (on_done_) on_done_();
}

int BatchRunner::exit_status() const {
  if (fatal_) return 125;
  if (cancel_signal_ > 0) return 128 + cancel_signal_;
  if (resource_gave_up_ > 0) return 75;  // EX_TEMPFAIL: --resume later
  return 0;
}

}  // namespace bounded_subprocess::cli
