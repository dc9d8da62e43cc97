// The run options of bounded-run, in one place: their names on the command
// line (`--max-output`) and in JSON (`max_output`), how a value is checked,
// and how they become the library's options. The single-run command line,
// the batch command line and the batch's JSON jobs all go through here.
#pragma once

#include <bitset>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/options.hpp"

namespace bounded_subprocess::cli {

/// An error of bounded-run itself (bad option, bad number, unreadable file),
/// or of one batch job: one line naming the option or field.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Every run option. The order is the order of `--help`.
enum class Field : std::size_t {
  timeout,
  max_output,
  tail,
  stdin_data,
  stdin_file,
  stdin_timeout,
  memory_limit_mb,
  memory_interval,
  cwd,
  env,
  clear_env,
  podman,
  volumes,
  entrypoint,
  podman_args,
  containment,
  min_containment,
  network,
  read_only,
  scratch_mb,
  pids_limit,
  cpu_limit,
  file_size_limit_mb,
};
inline constexpr std::size_t kFieldCount = 23;

/// What a run needs, checked, before it becomes the library's options.
struct RunSpec {
  /// PROGRAM and its arguments (a batch job's `args`).
  std::vector<std::string> argv;
  double timeout = defaults::timeout.count();
  std::size_t max_output = defaults::max_output_size;
  bool tail = false;
  std::optional<std::string> stdin_data;
  /// A path; "-" is bounded-run's own stdin (command line only).
  std::optional<std::string> stdin_file;
  double stdin_timeout = defaults::stdin_write_timeout.count();
  std::optional<std::size_t> memory_limit_mb;
  double memory_interval = defaults::memory_watchdog_interval.count();
  std::optional<std::string> cwd;
  /// NAME=VALUE pairs, in order; a later pair overrides an earlier one.
  std::vector<std::pair<std::string, std::string>> env;
  bool clear_env = false;
  /// The image: run in a podman container.
  std::optional<std::string> podman;
  std::vector<std::string> volumes;
  /// An empty string clears the image's ENTRYPOINT.
  std::optional<std::string> entrypoint;
  std::vector<std::string> podman_args;
  /// Exactly this mechanism; absent ("auto"): the strongest the machine has
  /// (for a container, the podman client's default).
  std::optional<Containment> containment;
  /// Never a weaker mechanism than this one.
  Containment min_containment = Containment::process_group;
  /// Isolation (on the host: Options::isolation; in a container: podman's
  /// own flags). "none" or "host".
  std::optional<std::string> network;
  bool read_only = false;
  std::optional<std::size_t> scratch_mb;
  std::optional<std::size_t> pids_limit;
  std::optional<double> cpu_limit;
  std::optional<std::size_t> file_size_limit_mb;

  /// Whether any isolation was asked for (on the host: `volumes` too).
  bool isolated() const;
};

/// A RunSpec and which of its fields were given (on the command line, or in
/// a job's JSON object).
struct RunSettings {
  RunSpec spec;
  std::bitset<kFieldCount> given;
  bool has(Field f) const { return given.test(static_cast<std::size_t>(f)); }
};

/// The kinds of values, each with one check shared by both spellings.
enum class ValueKind {
  seconds,           ///< decimal seconds above 0, at most 1e9
  optional_seconds,  ///< the same, or absent (JSON null)
  count,             ///< whole number, 0 or more
  positive_count,    ///< whole number, 1 or more
  flag,              ///< no value on the command line; a JSON boolean
  text,              ///< a string (JSON null: not given)
  text_list,         ///< repeatable option; a JSON array of strings
  env,               ///< NAME=VALUE, repeatable; a JSON object of strings
  mechanism,         ///< a containment's name (`containment` also takes "auto")
};

/// Which runs an option applies to.
enum class Scope { any, local_only, container_only };

struct FieldInfo {
  Field field;
  std::string_view json;        ///< "max_output"
  std::string_view flag;        ///< "--max-output"
  std::string_view value_name;  ///< "BYTES"
  std::string_view help;
  ValueKind kind;
  Scope scope;
  std::string_view default_text;  ///< for --help; empty when there is none
};

/// The table of every run option, in `Field` order.
const std::vector<FieldInfo>& run_fields();
const FieldInfo& info(Field f);

/// Sets `field` of `settings` from its command-line text (each word of a
/// repeatable option on its own call). Errors: UsageError naming the flag.
void set_from_text(RunSettings& settings, Field field, const std::string& text);
/// Sets `field` from a JSON value (null unsets an optional field). Errors:
/// UsageError naming the field.
void set_from_json(RunSettings& settings, Field field, const nlohmann::json& value);

/// How a conflict message names options: by flag or by JSON field.
enum class Spelling { flag, json };

/// Rejects combinations that make no sense within one source of settings:
/// stdin data and a stdin file, a containment weaker than the minimum; with `containers_known` also
/// container-only options without `podman` and local-only options with it (a batch's command-line defaults
/// skip these: they apply to the jobs they fit).
void check_conflicts(const RunSettings& settings, Spelling spelling, bool containers_known);

/// A job's settings over the command line's defaults: a scalar field the job
/// gives replaces the default; list fields (env, volumes, podman_args) are
/// the defaults followed by the job's; giving one of stdin data / stdin file
/// drops the other. Then, against the job's own fields only, the checks of
/// `check_conflicts` (defaults that do not fit the job's kind are ignored).
RunSettings merge(const RunSettings& defaults, const RunSettings& job);

/// The library's options for the run: on the host (the environment:
/// inherited plus `env`, or only `env` with `clear_env`), or with `podman`
/// in a container (`env` becomes the container's `-e` flags and
/// `memory_limit_mb` its cgroup's limit). `stdin_bytes` replaces the stdin
/// source (the caller has read `stdin_file`); `timeout` overrides the
/// spec's when given (what is left of the deadline after reading stdin).
Options to_options(const RunSpec& spec, std::optional<std::string> stdin_bytes,
                   std::optional<double> timeout = std::nullopt);

}  // namespace bounded_subprocess::cli
