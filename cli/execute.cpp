#include "execute.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/podman.hpp"
#include "bounded_subprocess/run.hpp"

namespace bounded_subprocess::cli {

namespace {

std::string read_all(int fd, const std::string& name) {
  std::string data;
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n > 0) {
      data.append(chunk, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return data;
    } else if (errno != EINTR) {
      throw UsageError("cannot read --stdin-file " + name + ": " + std::strerror(errno));
    }
  }
}

std::optional<std::string> stdin_bytes(const CliConfig& config) {
  if (config.stdin_data) return config.stdin_data;
  if (!config.stdin_file) return std::nullopt;
  const std::string& path = *config.stdin_file;
  if (path == "-") return read_all(STDIN_FILENO, "- (standard input)");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError("cannot open --stdin-file '" + path + "': " + std::strerror(errno));
  try {
    std::string data = read_all(fd, "'" + path + "'");
    ::close(fd);
    return data;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

Result run_local(const CliConfig& config, std::optional<std::string> input) {
  RunOptions options{
      .timeout = Seconds(config.timeout_seconds),
      .max_output_size = config.max_output,
      .tail = config.tail,
      .env = std::nullopt,
      .stdin_data = std::move(input),
      .stdin_write_timeout = Seconds(config.stdin_timeout_seconds),
      .cwd = config.cwd,
      .memory_limit_mb = config.memory_limit_mb,
      .memory_watchdog_interval = Seconds(config.memory_interval_seconds),
      .containment = config.containment,
      .min_containment = config.min_containment,
  };
  if (config.clear_env || !config.env.empty()) {
    Environment env = config.clear_env ? Environment{} : inherited_env();
    for (const auto& [name, value] : config.env) env[name] = value;
    options.env = std::move(env);
  }
  return run(config.argv, options);
}

Result run_in_container(const CliConfig& config, std::optional<std::string> input) {
  PodmanOptions options{
      .image = *config.podman_image,
      .timeout = Seconds(config.timeout_seconds),
      .max_output_size = config.max_output,
      .tail = config.tail,
      .env = std::nullopt,
      .stdin_data = std::move(input),
      .stdin_write_timeout = Seconds(config.stdin_timeout_seconds),
      .volumes = config.volumes,
      .cwd = config.cwd,
      .memory_limit_mb = config.memory_limit_mb,
      .entrypoint = config.entrypoint,
      .podman_args = config.podman_args,
      .containment = config.containment,
      .min_containment = config.min_containment,
  };
  if (!config.env.empty()) {
    Environment env;
    for (const auto& [name, value] : config.env) env[name] = value;
    options.env = std::move(env);
  }
  return podman_run(config.argv, options);
}

}  // namespace

Result execute(const CliConfig& config) {
  std::optional<std::string> input = stdin_bytes(config);
  if (config.podman_image) return run_in_container(config, std::move(input));
  return run_local(config, std::move(input));
}

}  // namespace bounded_subprocess::cli
