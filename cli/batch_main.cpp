// `bounded-run batch`: sets up the input, the output, --resume, the signals
// and the progress display around a BatchRunner, on one io_context.
#include "batch_main.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/io_context.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <system_error>
#include <variant>

#include "batch_jobs.hpp"
#include "batch_options.hpp"
#include "batch_output.hpp"
#include "batch_progress.hpp"
#include "batch_runner.hpp"
#include "report.hpp"
#include "signals.hpp"

namespace bounded_subprocess::cli {

namespace {

// Each running job holds a handful of fds (pipes, pidfd, the watchdog's);
// raise the soft limit toward the hard one when --parallel needs it.
void raise_fd_limit(std::size_t parallel) {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t want = static_cast<rlim_t>(parallel) * 8 + 256;
  if (lim.rlim_cur >= want) return;
  lim.rlim_cur = lim.rlim_max == RLIM_INFINITY ? want : std::min(want, lim.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &lim);
}

// The number of job lines (not blank) of this shard in a regular file, read
// once without keeping lines; nullopt when it cannot be known in advance.
std::optional<std::size_t> count_jobs(const std::string& path, const Shard& shard) {
  if (path == "-" || (shard.count > 1 && shard.by == Shard::By::id)) return std::nullopt;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::size_t> total;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    std::size_t count = 0, line = 0;
    bool content = false;
    char buf[65536];
    ssize_t n;
    auto end_line = [&] {
      if (content && line % shard.count == shard.index) ++count;
      ++line;
      content = false;
    };
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        const char c = buf[i];
        if (c == '\n') {
          end_line();
        } else if (c != ' ' && c != '\t' && c != '\r') {
          content = true;
        }
      }
    }
    if (content) end_line();
    if (n == 0) total = count;
  }
  ::close(fd);
  return total;
}

// Refuses an --output that is the jobs file itself (same device and inode):
// --overwrite would empty the jobs, --resume would take jobs for results, and
// appending would feed results back as jobs. Devices, terminals and sockets
// (stdin and stdout on one terminal) are not files that can be lost.
void refuse_output_that_is_input(const std::string& output, int input_fd, const std::string& input) {
  struct stat in {
  }, out{};
  if (::fstat(input_fd, &in) != 0 || ::stat(output.c_str(), &out) != 0) return;
  if (in.st_dev != out.st_dev || in.st_ino != out.st_ino) return;
  if (!S_ISREG(out.st_mode) && !S_ISFIFO(out.st_mode)) return;
  throw UsageError("--output '" + output + "' is the jobs file " +
                   (input == "-" ? std::string("(stdin)") : "'" + input + "'") +
                   " itself: results would overwrite or mix with the jobs; give another file");
}

}  // namespace

int batch_main(int argc, char** argv) {
  auto parsed = parse_batch_command_line(argc, argv, slurm_environment());
  if (const auto* help = std::get_if<BatchHelp>(&parsed))
    return write_all(STDOUT_FILENO, help->text) ? 0 : 125;
  const BatchConfig& config = std::get<BatchConfig>(parsed);

  raise_fd_limit(config.parallel);
  // A closed stdout or output pipe must not kill the batch while it has
  // jobs running: it becomes EPIPE, a fatal error that cancels them.
  ::signal(SIGPIPE, SIG_IGN);

  // The jobs file is opened first, so that an output that is the same file
  // is refused before it is truncated or read as results.
  const int input_fd = [&] {
    try {
      return FdSource::open_input(config.input, "JOBS '" + config.input + "'");
    } catch (const std::system_error& e) {
      throw UsageError(e.what());
    }
  }();
  struct InputGuard {  // until the LineReader owns it
    int fd;
    ~InputGuard() {
      if (fd >= 0) ::close(fd);
    }
  } input_guard{input_fd};
  if (config.output) refuse_output_that_is_input(*config.output, input_fd, config.input);

  KeySet keys;
  ResumeScan resumed;
  if (config.resume) resumed = scan_for_resume(*config.output, keys, kKeyDone);
  ResultSink sink(config.output, config.resume, config.overwrite);
  input_guard.fd = -1;

  asio::io_context io(1);
  StopSignals signals(io);
  LineReader input(io.get_executor(), input_fd, kMaxJobLine);
  Progress progress(io, config.progress, config.progress_interval, !config.quiet);
  if (auto total = count_jobs(config.input, config.shard)) progress.set_total(*total);
  if (!config.quiet && (resumed.cancelled > 0 || resumed.unstarted > 0 || resumed.cut_line)) {
    write_all(STDERR_FILENO, "bounded-run batch: resuming: " + std::to_string(resumed.done) +
                                 " results kept, " + std::to_string(resumed.cancelled) +
                                 " cancelled results dropped" +
                                 (resumed.unstarted > 0 ? ", " + std::to_string(resumed.unstarted) +
                                                              " lines of jobs that lacked resources dropped"
                                                        : "") +
                                 (resumed.cut_line ? ", a cut-off last line dropped" : "") + "\n");
  }

  BatchRunner runner(io, config, input, sink, keys, progress);
  signals.watch([&](int signo) { runner.stop(signo); });
  progress.start();
  runner.start([&] {
    signals.stop();
    progress.finish(runner.cancel_signal());
  });
  io.run();
  if (runner.error()) write_all(STDERR_FILENO, "bounded-run: " + *runner.error() + "\n");
  return runner.exit_status();
}

}  // namespace bounded_subprocess::cli
