// Validating a command and preparing it for execve.
#include "spawn/command.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "bounded_subprocess/spawn_error.hpp"
#include "spawn/child.hpp"

extern char** environ;  // NOLINT: POSIX

namespace bounded_subprocess::detail {

namespace {

// `s` for an error message: control bytes (a NUL first of all, which would
// end what() there) and the backslash escaped as \xNN and \\.
std::string escaped(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == '\\') {
      out += "\\\\";
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

bool is_executable_file(const std::string& path, int& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) err = errno;
    return false;
  }
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0) {
    err = EACCES;
    return false;
  }
  return true;
}

// execvp's lookup, but in the PATH the child will have.
std::string resolve_program(const std::string& name, const std::optional<Environment>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path;
  if (env) {
    if (auto it = env->find("PATH"); it != env->end())
      path = it->second;
    else
      path = "/usr/local/bin:/usr/bin:/bin";
  } else if (const char* p = std::getenv("PATH")) {
    path = p;
  } else {
    path = "/usr/local/bin:/usr/bin:/bin";
  }
  int err = ENOENT;
  std::string_view rest(path);
  while (true) {
    const auto colon = rest.find(':');
    std::string_view dir = rest.substr(0, colon);
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate += '/';
    candidate += name;
    if (is_executable_file(candidate, err)) return candidate;
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  throw SpawnError(err, SpawnError::Subject::program, name, "cannot start '" + name + "': not found in PATH");
}

}  // namespace

void validate_command(const std::vector<std::string>& argv, const std::optional<Environment>& env,
                      const std::optional<std::string>& cwd) {
  if (argv.empty()) throw std::invalid_argument("argv must not be empty");
  if (argv.front().empty()) throw std::invalid_argument("argv[0] (the program) must not be empty");
  for (std::size_t i = 0; i < argv.size(); ++i)
    if (has_nul(argv[i])) throw std::invalid_argument("argv[" + std::to_string(i) + "] contains a NUL byte");
  if (env) {
    for (const auto& [name, value] : *env) {
      if (name.empty()) throw std::invalid_argument("environment variable name must not be empty");
      if (name.find('=') != std::string::npos || has_nul(name))
        throw std::invalid_argument("environment variable name '" + escaped(name) + "' contains " +
                                    (has_nul(name) ? "a NUL byte" : "'='"));
      if (has_nul(value))
        throw std::invalid_argument("value of environment variable '" + escaped(name) +
                                    "' contains a NUL byte");
    }
  }
  if (cwd && (cwd->empty() || has_nul(*cwd)))
    throw std::invalid_argument("cwd must be a non-empty path without NUL bytes");
}

ExecCommand::ExecCommand(const std::vector<std::string>& argv, const std::optional<Environment>& env)
    : path_(resolve_program(argv.front(), env)) {
  // With a cwd, a relative program path is resolved by exec after chdir, as
  // the child sees it.
  argv_.reserve(argv.size() + 1);
  for (const auto& a : argv) argv_.push_back(const_cast<char*>(a.c_str()));
  argv_.push_back(nullptr);
  if (env) {
    own_env_ = true;
    env_storage_.reserve(env->size());
    envp_.reserve(env->size() + 1);
    for (const auto& [name, value] : *env) {
      env_storage_.push_back(name + "=" + value);
      envp_.push_back(env_storage_.back().data());
    }
    envp_.push_back(nullptr);
  }
}

ExecCommand::ExecCommand(OwnAll, const ExecCommand& from) : path_(from.path_), own_env_(true) {
  argv_storage_.reserve(from.argv_.size());
  argv_.reserve(from.argv_.size());
  for (const char* a : from.argv_)
    if (a != nullptr) argv_storage_.emplace_back(a);
  for (std::string& a : argv_storage_) argv_.push_back(a.data());
  argv_.push_back(nullptr);
  char* const* envp = from.envp();
  std::size_t n = 0;
  while (envp[n] != nullptr) ++n;
  env_storage_.reserve(n);
  envp_.reserve(n + 1);
  for (std::size_t i = 0; i < n; ++i) env_storage_.emplace_back(envp[i]);
  for (std::string& e : env_storage_) envp_.push_back(e.data());
  envp_.push_back(nullptr);
}

char* const* ExecCommand::envp() const noexcept {
  return own_env_ ? envp_.data() : environ;
}

}  // namespace bounded_subprocess::detail
