#include "podman_command.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "bounded_subprocess/run.hpp"
#include "supervisor.hpp"
#include "unique_fd.hpp"

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

void validate_container(const std::vector<std::string>& argv, const ContainerSpec& spec) {
  if (argv.empty()) throw std::invalid_argument("podman: argv must not be empty");
  for (const auto& a : argv) require_no_nul(a, "an argument");
  if (spec.image->empty()) throw std::invalid_argument("podman: image must not be empty");
  require_no_nul(*spec.image, "the image");
  if (spec.podman_path->empty())
    throw std::invalid_argument("podman: podman_path must not be empty");
  require_no_nul(*spec.podman_path, "podman_path");
  if (*spec.env) {
    for (const auto& [name, value] : **spec.env) {
      if (name.empty() || name.find('=') != std::string::npos)
        throw std::invalid_argument("podman: environment name '" + name +
                                    "' is empty or holds '='");
      require_no_nul(name, "an environment name");
      require_no_nul(value, "an environment value");
    }
  }
  for (const auto& v : *spec.volumes) {
    if (v.empty()) throw std::invalid_argument("podman: a volume must not be empty");
    require_no_nul(v, "a volume");
  }
  if (*spec.cwd) {
    if ((*spec.cwd)->empty()) throw std::invalid_argument("podman: cwd must not be empty");
    require_no_nul(**spec.cwd, "cwd");
  }
  if (*spec.memory_limit_mb && **spec.memory_limit_mb == 0)
    throw std::invalid_argument("podman: memory_limit_mb must be at least 1");
  if (*spec.entrypoint) require_no_nul(**spec.entrypoint, "the entrypoint");
  for (const auto& a : *spec.podman_args) require_no_nul(a, "a podman argument");
  if (*spec.temp_dir) {
    if ((*spec.temp_dir)->empty()) throw std::invalid_argument("podman: temp_dir must not be empty");
    require_no_nul(**spec.temp_dir, "temp_dir");
  }
  const double c = spec.cleanup_timeout.count();
  if (!(c > 0.0) || c > 1e9)
    throw std::invalid_argument("podman: cleanup_timeout must be a positive, finite duration");
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

PodmanScratch::~PodmanScratch() { remove(); }

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

std::vector<std::string> podman_run_command(const std::vector<std::string>& argv,
                                            const ContainerSpec& spec,
                                            const PodmanScratch& scratch) {
  std::vector<std::string> cmd{*spec.podman_path, "run", "--rm", "-i", "--cidfile",
                               scratch.cidfile(), "--label",
                               std::string(kCallLabel) + "=" + scratch.call_id()};
  if (*spec.env) {
    for (const auto& [name, value] : **spec.env) {
      cmd.emplace_back("-e");
      cmd.push_back(name + "=" + value);
    }
  }
  for (const auto& v : *spec.volumes) {
    cmd.emplace_back("-v");
    cmd.push_back(v);
  }
  if (*spec.cwd) {
    cmd.emplace_back("-w");
    cmd.push_back(**spec.cwd);
  }
  if (*spec.memory_limit_mb) {
    const std::string m = std::to_string(**spec.memory_limit_mb) + "m";
    cmd.emplace_back("--memory");
    cmd.push_back(m);
    cmd.emplace_back("--memory-swap");
    cmd.push_back(m);
  }
  if (*spec.entrypoint) {
    // `--entrypoint=` keeps an empty value attached to its flag.
    cmd.push_back("--entrypoint=" + **spec.entrypoint);
  }
  cmd.insert(cmd.end(), spec.podman_args->begin(), spec.podman_args->end());
  cmd.push_back(*spec.image);
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  return cmd;
}

std::vector<std::string> podman_rm_command(const ContainerSpec& spec,
                                           const PodmanScratch& scratch, bool client_started) {
  if (!client_started) return {};
  if (scratch.container_id())
    return {*spec.podman_path, "rm", "-f", "--time", "0", "--cidfile", scratch.cidfile(),
            "--ignore"};
  return {*spec.podman_path, "rm",     "-f",
          "--time",          "0",      "--ignore",
          "--filter",        std::string("label=") + kCallLabel + "=" + scratch.call_id()};
}

RunOptions client_run_options(Seconds timeout, std::size_t max_output_size, bool tail,
                              const std::optional<std::string>& stdin_data,
                              Seconds stdin_write_timeout) {
  RunOptions o;
  o.timeout = timeout;
  o.max_output_size = max_output_size;
  o.tail = tail;
  o.stdin_data = stdin_data;
  o.stdin_write_timeout = stdin_write_timeout;
  return o;
}

RunOptions cleanup_run_options(const ContainerSpec& spec) {
  RunOptions o;
  o.timeout = spec.cleanup_timeout;
  o.max_output_size = 4096;
  return o;
}

void check_cleanup_result(const std::vector<std::string>& rm_command, const Result& rm_result) {
  if (rm_result.exit_code == 0 && !rm_result.timeout) return;
  std::string cmd;
  for (const auto& a : rm_command) cmd += (cmd.empty() ? "" : " ") + a;
  std::string msg = "podman: cleanup `" + cmd + "` ";
  msg += rm_result.timeout ? std::string("timed out")
                           : "failed with exit code " + std::to_string(rm_result.exit_code);
  msg += "; the container may be left behind";
  if (!rm_result.err.data.empty()) msg += ": " + rm_result.err.data;
  throw std::runtime_error(msg);
}

void remove_container_sync(const ContainerSpec& spec, PodmanScratch& scratch,
                           bool client_started) {
  struct RemoveScratch {
    PodmanScratch& s;
    ~RemoveScratch() { s.remove(); }
  } remove_scratch{scratch};
  const auto rm = podman_rm_command(spec, scratch, client_started);
  if (rm.empty()) return;
  check_cleanup_result(rm, run(rm, cleanup_run_options(spec)));
}

PodmanOptions container_options(const PodmanStreamOptions& o) {
  PodmanOptions c;
  c.image = o.image;
  c.timeout = o.timeout;
  c.env = o.env;
  c.stdin_data = o.stdin_data;
  c.stdin_write_timeout = o.stdin_write_timeout;
  c.volumes = o.volumes;
  c.cwd = o.cwd;
  c.memory_limit_mb = o.memory_limit_mb;
  c.entrypoint = o.entrypoint;
  c.podman_args = o.podman_args;
  c.podman_path = o.podman_path;
  c.cleanup_timeout = o.cleanup_timeout;
  c.temp_dir = o.temp_dir;
  return c;
}

PodmanCall::PodmanCall(const std::vector<std::string>& argv, PodmanOptions options)
    : options_(std::move(options)), scratch_(options_.temp_dir) {
  command_ = podman_run_command(argv, spec(), scratch_);
}

PodmanCall::~PodmanCall() { cleanup_now(); }

void PodmanCall::cleanup_now() noexcept {
  if (cleaned_) return;
  cleaned_ = true;
  if (!started_) {
    scratch_.remove();
    return;
  }
  try {
    remove_container_sync(spec(), scratch_, true);
  } catch (...) {
    // Nowhere to report it; the folder is deleted anyway.
  }
}

std::vector<std::string> PodmanCall::rm_command() const {
  return podman_rm_command(spec(), scratch_, true);
}

std::exception_ptr PodmanCall::cleanup_done(std::exception_ptr rm_error,
                                            const Result& rm_result) noexcept {
  std::exception_ptr error = std::move(rm_error);
  if (!error) {
    try {
      check_cleanup_result(rm_command(), rm_result);  // before the cidfile goes
    } catch (...) {
      error = std::current_exception();
    }
  }
  cleaned_ = true;
  scratch_.remove();
  return error;
}

}  // namespace bounded_subprocess::detail
