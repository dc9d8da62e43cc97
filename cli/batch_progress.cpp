#include "batch_progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report.hpp"

namespace bounded_subprocess::cli {

namespace {

constexpr std::size_t kSlowest = 5;
constexpr auto kBarRefresh = std::chrono::milliseconds(200);

std::string clock_text(double seconds) {
  // Rounded half up by hand: std::lround alone would make bounded-run load
  // libm at every start.
  const long s = static_cast<long>(std::max(0.0, seconds) + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::size_t terminal_width() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

Verdict verdict_of(const Result& result) {
  switch (result.reason) {
    case EndReason::cancelled: return Verdict::cancelled;
    case EndReason::timeout: return Verdict::timeout;
    case EndReason::memory_limit: return Verdict::memory;
    default: break;
  }
  if (result.timeout) return Verdict::timeout;
  if (result.memory_limit_exceeded) return Verdict::memory;
  return result.exit_code == 0 ? Verdict::ok : Verdict::failed;
}

Progress::Progress(asio::io_context& io, ProgressMode mode, double interval_seconds, bool summary)
    : timer_(io), summary_(summary), interval_(interval_seconds) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  bar_ = mode == ProgressMode::bar || (mode == ProgressMode::automatic && tty);
  lines_ = mode == ProgressMode::lines || (mode == ProgressMode::automatic && !tty);
}

void Progress::record(Verdict verdict, double elapsed_seconds, const std::string& id_text,
                      std::optional<bool> confirmed) {
  ++done_;
  ++counts_[static_cast<int>(verdict)];
  if (confirmed) ++(*confirmed ? confirmed_ : unconfirmed_);
  if (slowest_.size() < kSlowest || elapsed_seconds > slowest_.back().first) {
    slowest_.emplace_back(elapsed_seconds, id_text);
    std::sort(slowest_.begin(), slowest_.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    if (slowest_.size() > kSlowest) slowest_.pop_back();
  }
  if (bar_) draw(false);
}

void Progress::start() {
  started_ = last_draw_ = std::chrono::steady_clock::now();
  if (bar_ || lines_) tick();
}

void Progress::tick() {
  const auto period = bar_ ? std::chrono::duration<double>(1.0) : interval_;
  timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(period));
  timer_.async_wait([this](std::error_code ec) {
    if (ec || stopped_) return;
    draw(true);
    tick();
  });
}

std::string Progress::status_line() const {
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double rate = wall > 0 ? static_cast<double>(done_) / wall : 0.0;
  std::string s;
  if (total_) {
    const std::size_t finished = std::min(*total_, done_ + resumed_);
    s += std::to_string(finished) + "/" + std::to_string(*total_);
    s += " " + std::to_string(*total_ == 0 ? 100 : finished * 100 / *total_) + "%";
  } else {
    s += std::to_string(done_ + resumed_) + " done";
  }
  s += "  " + fixed(rate, 1) + "/s";
  if (total_ && rate > 0) {
    const double left = static_cast<double>(*total_ - std::min(*total_, done_ + resumed_));
    s += "  ETA " + clock_text(left / rate);
  }
  s += "  ok " + std::to_string(counts_[0]) + " fail " + std::to_string(counts_[1]) + " timeout " +
       std::to_string(counts_[2]) + " mem " + std::to_string(counts_[3]) + " err " +
       std::to_string(counts_[4]);
  if (counts_[5] > 0) s += " cancelled " + std::to_string(counts_[5]);
  s += "  running " + std::to_string(running_);
  return s;
}

void Progress::draw(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kBarRefresh) return;
  last_draw_ = now;
  if (bar_) {
    std::string status = status_line();
    std::string line = "\r";
    if (total_ && *total_ > 0) {
      constexpr std::size_t kWidth = 24;
      const std::size_t filled = std::min(*total_, done_ + resumed_) * kWidth / *total_;
      line += "[" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    }
    line += status;
    const std::size_t width = terminal_width();
    if (line.size() > width) line.resize(width);  // "\r" counts: one column spare for the cursor
    line += "\x1b[K";
    write_all(STDERR_FILENO, line);
  } else if (lines_) {
    write_all(STDERR_FILENO, "bounded-run batch: " + status_line() + "\n");
  }
}

void Progress::finish(int cancel_signal) {
  stopped_ = true;
  timer_.cancel();
  if (bar_) write_all(STDERR_FILENO, "\r\x1b[K");
  if (!summary_) return;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::string s = "bounded-run batch: " + std::to_string(done_) + " job" + (done_ == 1 ? "" : "s") + " in " +
                  fixed(wall, 1) + "s";
  if (wall > 0 && done_ > 0) s += " (" + fixed(static_cast<double>(done_) / wall, 1) + "/s)";
  s += ": " + std::to_string(counts_[0]) + " exited 0, " + std::to_string(counts_[1]) + " failed, " +
       std::to_string(counts_[2]) + " timed out, " + std::to_string(counts_[3]) + " memory kills, " +
       std::to_string(counts_[4]) + " errors, " + std::to_string(counts_[5]) + " cancelled";
  if (resumed_ > 0) s += "; " + std::to_string(resumed_) + " already done (--resume)";
  s += "\n";
  if (confirmed_ + unconfirmed_ > 0) {
    s += "  timeouts re-run alone: " + std::to_string(confirmed_) + " timed out again, " +
         std::to_string(unconfirmed_) + " did not\n";
  }
  if (resource_waits_ + resource_gave_up_ > 0) {
    s += "  lack of resources (" + resource_why_ + "): " + std::to_string(resource_waits_) + " start" +
         (resource_waits_ == 1 ? "" : "s") + " tried again later, at most " +
         std::to_string(lowest_parallel_) + " job" + (lowest_parallel_ == 1 ? "" : "s") +
         " at once at the lowest; ";
    s += resource_gave_up_ == 0
             ? "every job started\n"
             : std::to_string(resource_gave_up_) + " job" + (resource_gave_up_ == 1 ? "" : "s") +
                   " could not start (lines with \"resumable\": true, counted as errors): --resume runs " +
                   (resource_gave_up_ == 1 ? "it" : "them") + " again\n";
  }
  if (!slowest_.empty()) {
    s += "  slowest:";
    for (std::size_t i = 0; i < slowest_.size(); ++i) {
      s += (i == 0 ? " " : ", ") + slowest_[i].second + " " + fixed(slowest_[i].first, 2) + "s";
    }
    s += "\n";
  }
  if (cancel_signal > 0) {
    s += "  stopped by signal " + std::to_string(cancel_signal) +
         ": running jobs were killed and written as cancelled; --resume runs them and the rest\n";
  }
  write_all(STDERR_FILENO, s);
}

}  // namespace bounded_subprocess::cli
