#include "podman/podman_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "base/unique_fd.hpp"
#include "bounded_subprocess/detail/run_observed.hpp"
#include "engine/supervisor.hpp"
#include "stream/stream_sync.hpp"

namespace bounded_subprocess::detail {

namespace {

void require_no_nul(std::string_view s, const char* what) {
  if (s.find('\0') != std::string_view::npos)
    throw std::invalid_argument(std::string("podman: ") + what + " holds a NUL byte");
}

bool is_container_id(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

void validate_container(const std::vector<std::string>& argv, const Options& options) {
  if (!options.container) throw std::invalid_argument("podman: no container given");
  const Container& o = *options.container;
  if (argv.empty()) throw std::invalid_argument("podman: argv must not be empty");
  for (const auto& a : argv) require_no_nul(a, "an argument");
  if (o.image.empty()) throw std::invalid_argument("podman: container.image must not be empty");
  require_no_nul(o.image, "the image");
  if (o.podman_path.empty()) throw std::invalid_argument("podman: container.podman_path must not be empty");
  require_no_nul(o.podman_path, "podman_path");
  if (options.env) {
    for (const auto& [name, value] : *options.env) {
      if (name.empty() || name.find('=') != std::string::npos)
        throw std::invalid_argument("podman: environment name '" + name + "' is empty or holds '='");
      require_no_nul(name, "an environment name");
      require_no_nul(value, "an environment value");
    }
  }
  for (const auto& v : o.volumes) {
    if (v.empty()) throw std::invalid_argument("podman: a volume must not be empty");
    require_no_nul(v, "a volume");
  }
  if (options.cwd) {
    if (options.cwd->empty()) throw std::invalid_argument("podman: cwd must not be empty");
    require_no_nul(*options.cwd, "cwd");
  }
  if (o.cgroup_memory_limit_mb && *o.cgroup_memory_limit_mb == 0)
    throw std::invalid_argument("podman: container.cgroup_memory_limit_mb must be at least 1");
  if (o.entrypoint) require_no_nul(*o.entrypoint, "the entrypoint");
  for (const auto& a : o.podman_args) require_no_nul(a, "a podman argument");
  if (o.temp_dir) {
    if (o.temp_dir->empty()) throw std::invalid_argument("podman: container.temp_dir must not be empty");
    require_no_nul(*o.temp_dir, "temp_dir");
  }
  const double c = o.cleanup_timeout.count();
  if (!(c > 0.0) || c > 1e9)
    throw std::invalid_argument("podman: container.cleanup_timeout must be a positive, finite duration");
}

Options client_options(const Options& o) {
  return {.timeout = o.timeout,
          .max_output_size = o.max_output_size,
          .tail = o.tail,
          .max_line_size = o.max_line_size,
          .stdin_data = o.stdin_data,
          .stdin_write_timeout = o.stdin_write_timeout,
          .containment = client_containment(o.containment, o.min_containment),
          .min_containment = o.min_containment,
          .on_interrupt = o.on_interrupt};
}

Options checked_client_options(const std::vector<std::string>& argv, const Options& options,
                               EntryPoint entry) {
  const bool stream = entry == EntryPoint::run_stream_lines || entry == EntryPoint::open_line_stream;
  // The entry point's own rejections first, so that their messages name the entry point.
  if (stream) {
    (void)stream_settings(options, entry);
  } else {
    (void)run_settings(options, entry);
  }
  validate_container(argv, options);
  Options client = client_options(options);
  if (stream) {
    (void)stream_settings(client, entry);
  } else {
    (void)run_settings(client, entry);
  }
  return client;
}

Result run_in_container(const std::vector<std::string>& argv, const Options& options) {
  const Options client = checked_client_options(argv, options, EntryPoint::run);
  return run_container_sync(argv, options, [&](const std::vector<std::string>& command) {
    return run_observed(command, client, {});
  });
}

Result run_stream_lines_in_container(const std::vector<std::string>& argv, const Options& options,
                                     const std::function<bool(std::string_view line)>& on_line) {
  const Options client = checked_client_options(argv, options, EntryPoint::run_stream_lines);
  return run_container_sync(argv, options, [&](const std::vector<std::string>& command) {
    return run_stream_lines_on_host(command, client, on_line);
  });
}

PodmanScratch::PodmanScratch(const std::optional<std::string>& parent) {
  std::string base;
  if (parent) {
    base = *parent;
  } else if (const char* t = std::getenv("TMPDIR"); t != nullptr && *t != '\0') {
    base = t;
  } else {
    base = "/tmp";
  }
  constexpr std::string_view prefix = "bounded-subprocess-podman-";
  std::string templ = base + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    const int e = errno;
    throw std::system_error(e, std::generic_category(),
                            "podman: cannot create a temporary folder in " + base);
  }
  dir_ = std::move(templ);
  cidfile_ = dir_ + "/cid";
  // The pid and mkdtemp's random part: unique on this host while the folder exists.
  call_id_ = std::to_string(::getpid()) + "-" + dir_.substr(dir_.size() - 6);
}

PodmanScratch::~PodmanScratch() {
  remove();
}

void PodmanScratch::remove() noexcept {
  if (removed_) return;
  removed_ = true;
  ::unlink(cidfile_.c_str());
  ::rmdir(dir_.c_str());
}

std::optional<std::string> PodmanScratch::container_id() const {
  UniqueFd fd(::open(cidfile_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  char buf[128];
  std::size_t got = 0;
  while (got < sizeof buf) {
    const ssize_t n = ::read(fd.get(), buf + got, sizeof buf - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  std::string_view id(buf, got);
  while (!id.empty() && std::isspace(static_cast<unsigned char>(id.back()))) id.remove_suffix(1);
  if (!is_container_id(id)) return std::nullopt;
  return std::string(id);
}

std::vector<std::string> podman_run_command(const std::vector<std::string>& argv, const Options& options,
                                            const PodmanScratch& scratch) {
  const Container& o = *options.container;
  // --log-driver=none: conmon would otherwise copy everything the
  // container prints into a log file on the host's disk, unbounded (a
  // flooding container fills the disk); the attached streams are all we
  // read. A --log-driver in podman_args comes later and wins.
  std::vector<std::string> cmd{o.podman_path,
                               "run",
                               "--rm",
                               "-i",
                               "--log-driver=none",
                               "--cidfile",
                               scratch.cidfile(),
                               "--label",
                               std::string(kCallLabel) + "=" + scratch.call_id()};
  if (options.env) {
    for (const auto& [name, value] : *options.env) {
      cmd.emplace_back("-e");
      cmd.push_back(name + "=" + value);
    }
  }
  for (const auto& v : o.volumes) {
    cmd.emplace_back("-v");
    cmd.push_back(v);
  }
  if (options.cwd) {
    cmd.emplace_back("-w");
    cmd.push_back(*options.cwd);
  }
  if (o.cgroup_memory_limit_mb) {
    const std::string m = std::to_string(*o.cgroup_memory_limit_mb) + "m";
    cmd.emplace_back("--memory");
    cmd.push_back(m);
    cmd.emplace_back("--memory-swap");
    cmd.push_back(m);
  }
  if (o.entrypoint) {
    // `--entrypoint=` keeps an empty value attached to its flag.
    cmd.push_back("--entrypoint=" + *o.entrypoint);
  }
  cmd.insert(cmd.end(), o.podman_args.begin(), o.podman_args.end());
  cmd.push_back(o.image);
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  return cmd;
}

std::vector<std::string> podman_rm_command(const Container& o, const PodmanScratch& scratch,
                                           bool client_started) {
  if (!client_started) return {};
  if (scratch.container_id())
    return {o.podman_path, "rm", "-f", "--time", "0", "--cidfile", scratch.cidfile(), "--ignore"};
  return {
      o.podman_path, "rm",       "-f",       "--time",
      "0",           "--ignore", "--filter", std::string("label=") + kCallLabel + "=" + scratch.call_id()};
}

std::optional<Containment> client_containment(const std::optional<Containment>& requested,
                                              Containment at_least) {
  if (requested) return requested;
  if (at_least <= Containment::subreaper && containment_available(Containment::subreaper))
    return Containment::subreaper;
  return std::nullopt;  // the strongest there is, at least `at_least`
}

Options cleanup_options(const Options& options) {
  return {.timeout = options.container->cleanup_timeout,
          .max_output_size = 4096,
          .containment = client_containment(options.containment, options.min_containment),
          .min_containment = options.min_containment};
}

std::optional<Options> cleanup_retry_options(const Options& options, const Result& first) {
  // Only a refusal: a timeout used the budget up, and a signal is not
  // podman's answer.
  if (first.timeout || first.exit_code <= 0) return std::nullopt;
  Options retry = cleanup_options(options);
  const Seconds left = options.container->cleanup_timeout - first.elapsed;
  if (left <= Seconds(0)) return std::nullopt;
  retry.timeout = left;
  return retry;
}

namespace {

std::string cleanup_failure(const std::vector<std::string>& rm_command, const std::string& what) {
  std::string cmd;
  for (const auto& a : rm_command) cmd += (cmd.empty() ? "" : " ") + a;
  return "podman: cleanup `" + cmd + "` " + what + "; the container may be left behind";
}

}  // namespace

void check_cleanup_result(const std::vector<std::string>& rm_command, const Result& rm_result) {
  if (rm_result.exit_code == 0 && !rm_result.timeout) return;
  std::string msg = cleanup_failure(
      rm_command, rm_result.timeout ? std::string("timed out")
                                    : "failed with exit code " + std::to_string(rm_result.exit_code));
  if (!rm_result.err.data.empty()) msg += ": " + rm_result.err.data;
  throw std::runtime_error(msg);
}

std::optional<std::string> remove_container_sync(const Options& options, PodmanScratch& scratch,
                                                 bool client_started) noexcept {
  std::optional<std::string> error;
  try {
    const auto rm = podman_rm_command(*options.container, scratch, client_started);
    if (!rm.empty()) {
      Result result;
      try {
        result = run_observed(rm, cleanup_options(options), {});
        if (const auto retry = cleanup_retry_options(options, result)) result = run_observed(rm, *retry, {});
      } catch (const std::exception& e) {
        // As the async entry points say it (PodmanCall::cleanup_done).
        error = cleanup_failure(rm, std::string("could not run (") + e.what() + ")");
      }
      if (!error) check_cleanup_result(rm, result);
    }
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error.emplace();  // no memory for a message; the failure itself still counts
  }
  scratch.remove();
  return error;
}

Result run_container_sync(const std::vector<std::string>& argv, const Options& options,
                          const std::function<Result(const std::vector<std::string>& command)>& run_client) {
  const auto start = std::chrono::steady_clock::now();
  PodmanScratch scratch(options.container->temp_dir);
  const auto command = podman_run_command(argv, options, scratch);

  Result result;
  try {
    result = run_client(command);
  } catch (...) {
    // The client may or may not have started: clean up as if it had, but
    // report the first error.
    (void)remove_container_sync(options, scratch, true);
    throw;
  }
  if (auto error = remove_container_sync(options, scratch, true)) result.cleanup_error = std::move(*error);
  result.elapsed = std::chrono::steady_clock::now() - start;
  return result;
}

PodmanCall::PodmanCall(const std::vector<std::string>& argv, Options options)
    : options_(std::move(options)), scratch_(options_.container->temp_dir) {
  command_ = podman_run_command(argv, options_, scratch_);
}

PodmanCall::~PodmanCall() {
  cleanup_now();
}

void PodmanCall::cleanup_now() noexcept {
  if (cleaned_) return;
  cleaned_ = true;
  if (!started_) {
    scratch_.remove();
    return;
  }
  // Nowhere to report a failure; the folder is deleted anyway.
  (void)remove_container_sync(options_, scratch_, true);
}

std::vector<std::string> PodmanCall::rm_command() const {
  return podman_rm_command(*options_.container, scratch_, true);
}

std::optional<std::string> PodmanCall::cleanup_done(const std::string& rm_error,
                                                    const Result& rm_result) noexcept {
  std::optional<std::string> error;
  try {
    // Before the cidfile goes: the command names it.
    if (!rm_error.empty()) {
      error = cleanup_failure(rm_command(), "could not run (" + rm_error + ")");
    } else {
      check_cleanup_result(rm_command(), rm_result);
    }
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error.emplace();  // no memory for a message; the failure itself still counts
  }
  cleaned_ = true;
  scratch_.remove();
  return error;
}

}  // namespace bounded_subprocess::detail
