#include "run_spec.hpp"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace bounded_subprocess::cli {

namespace {

// Larger durations would overflow the nanosecond clocks the engine uses.
constexpr double kMaxSeconds = 1e9;
// Counts above this are refused (they would not fit the library's types
// once multiplied into bytes).
constexpr unsigned long long kMaxCount = 999'999'999'999'999'999ULL;

const std::vector<FieldInfo> kFields = {
    {Field::timeout, "timeout", "--timeout", "SECONDS", "Wall-clock bound of the whole run",
     ValueKind::seconds, Scope::any, "15"},
    {Field::max_output, "max_output", "--max-output", "BYTES", "Bytes kept of stdout and of stderr, each",
     ValueKind::count, Scope::any, "2048"},
    {Field::tail, "tail", "--tail", "", "Keep the last bytes instead of the first", ValueKind::flag,
     Scope::any, ""},
    {Field::stdin_data, "stdin", "--stdin-data", "TEXT", "Data for the program's stdin", ValueKind::text,
     Scope::any, ""},
    {Field::stdin_file, "stdin_file", "--stdin-file", "PATH",
     "File whose bytes go to the program's stdin ('-': bounded-run's own stdin; at most 64 MiB, read within "
     "the timeout)",
     ValueKind::text, Scope::any, ""},
    {Field::stdin_timeout, "stdin_timeout", "--stdin-timeout", "SECONDS", "Bound on writing the stdin data",
     ValueKind::seconds, Scope::any, "15"},
    {Field::memory_limit_mb, "memory_limit_mb", "--memory-limit-mb", "N",
     "Kill the run once the summed RSS of its processes exceeds N MiB (isolated runs: the kernel's limit of "
     "the run's cgroup too, where there is a memory controller)",
     ValueKind::positive_count, Scope::any, ""},
    {Field::memory_interval, "memory_interval", "--memory-interval", "SECONDS",
     "How often the memory watchdog samples", ValueKind::seconds, Scope::local_only, "1"},
    {Field::cwd, "cwd", "--cwd", "DIR", "Working directory of the program", ValueKind::text, Scope::any, ""},
    {Field::env, "env", "--env", "NAME=VALUE", "Add or override one environment variable (repeatable)",
     ValueKind::env, Scope::any, ""},
    {Field::clear_env, "clear_env", "--clear-env", "",
     "Start the program from an empty environment (then apply --env)", ValueKind::flag, Scope::local_only,
     ""},
    {Field::podman, "podman", "--podman", "IMAGE", "Run the program in a podman container of IMAGE",
     ValueKind::text, Scope::any, ""},
    {Field::volumes, "volumes", "--volume", "HOST:INSIDE[:ro]",
     "Bind HOST at INSIDE, read-only with :ro (repeatable; podman's -v with --podman)", ValueKind::text_list,
     Scope::any, ""},
    {Field::entrypoint, "entrypoint", "--entrypoint", "E",
     "Container entrypoint; '' clears the image's ENTRYPOINT (needs --podman)", ValueKind::text,
     Scope::container_only, ""},
    {Field::podman_args, "podman_args", "--podman-arg", "A",
     "Further flag for `podman run` (repeatable; needs --podman)", ValueKind::text_list,
     Scope::container_only, ""},
    {Field::containment, "containment", "--containment", "NAME",
     "How descendants are kept in the run: auto (the strongest the machine has), process_group, subreaper, "
     "pid_namespace or cgroup",
     ValueKind::mechanism, Scope::any, "auto"},
    {Field::min_containment, "min_containment", "--min-containment", "NAME",
     "Fail rather than run under a containment weaker than NAME", ValueKind::mechanism, Scope::any,
     "process_group"},
    {Field::network, "network", "--network", "none|host",
     "none: an empty network namespace with only its own loopback", ValueKind::text, Scope::any, "host"},
    {Field::read_only, "read_only", "--read-only", "",
     "The host's files are read-only (the scratch and writable volumes are not)", ValueKind::flag, Scope::any,
     ""},
    {Field::scratch_mb, "scratch_mb", "--scratch-mb", "N", "A private tmpfs of N MiB at /tmp (and TMPDIR)",
     ValueKind::positive_count, Scope::any, ""},
    {Field::pids_limit, "pids_limit", "--pids-limit", "N", "At most N processes and threads in the run",
     ValueKind::positive_count, Scope::any, ""},
    {Field::cpu_limit, "cpu_limit", "--cpu-limit", "SECONDS",
     "CPU time of the whole run; past it the run is killed (reason cpu_limit)", ValueKind::optional_seconds,
     Scope::local_only, ""},
    {Field::file_size_limit_mb, "file_size_limit_mb", "--file-size-limit-mb", "N",
     "The largest file the program may write (RLIMIT_FSIZE)", ValueKind::positive_count, Scope::any, ""},
};

std::size_t index(Field f) {
  return static_cast<std::size_t>(f);
}

std::string name_of(const FieldInfo& fi, Spelling spelling) {
  return spelling == Spelling::flag ? std::string(fi.flag) : "field '" + std::string(fi.json) + "'";
}

// The members of RunSpec, by field and value type.
struct Slot {
  double* seconds = nullptr;
  std::optional<double>* optional_seconds = nullptr;
  std::size_t* count = nullptr;
  std::optional<std::size_t>* optional_count = nullptr;
  bool* flag = nullptr;
  std::optional<std::string>* text = nullptr;
  std::vector<std::string>* list = nullptr;
  std::vector<std::pair<std::string, std::string>>* env = nullptr;
  std::optional<Containment>* mechanism = nullptr;  ///< absent: auto
  Containment* min_mechanism = nullptr;
};

Slot slot(RunSpec& s, Field f) {
  switch (f) {
    case Field::timeout: return {.seconds = &s.timeout};
    case Field::max_output: return {.count = &s.max_output};
    case Field::tail: return {.flag = &s.tail};
    case Field::stdin_data: return {.text = &s.stdin_data};
    case Field::stdin_file: return {.text = &s.stdin_file};
    case Field::stdin_timeout: return {.seconds = &s.stdin_timeout};
    case Field::memory_limit_mb: return {.optional_count = &s.memory_limit_mb};
    case Field::memory_interval: return {.seconds = &s.memory_interval};
    case Field::cwd: return {.text = &s.cwd};
    case Field::env: return {.env = &s.env};
    case Field::clear_env: return {.flag = &s.clear_env};
    case Field::podman: return {.text = &s.podman};
    case Field::volumes: return {.list = &s.volumes};
    case Field::entrypoint: return {.text = &s.entrypoint};
    case Field::podman_args: return {.list = &s.podman_args};
    case Field::containment: return {.mechanism = &s.containment};
    case Field::min_containment: return {.min_mechanism = &s.min_containment};
    case Field::network: return {.text = &s.network};
    case Field::read_only: return {.flag = &s.read_only};
    case Field::scratch_mb: return {.optional_count = &s.scratch_mb};
    case Field::pids_limit: return {.optional_count = &s.pids_limit};
    case Field::cpu_limit: return {.optional_seconds = &s.cpu_limit};
    case Field::file_size_limit_mb: return {.optional_count = &s.file_size_limit_mb};
  }
  return {};
}

// The one check of a duration, whichever spelling it came in.
double checked_seconds(double value, const std::string& name, const std::string& shown) {
  if (!std::isfinite(value) || !(value > 0) || value > kMaxSeconds) {
    throw UsageError(name + ": expected decimal seconds above 0 (at most 1e9), got '" + shown + "'");
  }
  return value;
}

// The one check of a count.
std::size_t checked_count(unsigned long long value, bool positive, const std::string& name,
                          const std::string& shown) {
  if (value > kMaxCount) throw UsageError(name + ": number too large: '" + shown + "'");
  if (positive && value == 0) {
    throw UsageError(name + ": expected a whole number of at least 1, got '" + shown + "'");
  }
  return static_cast<std::size_t>(value);
}

// Plain decimal only: digits with at most one '.', nothing else (no sign,
// space, exponent, hex, "inf" or "nan").
bool plain_decimal(const std::string& text) {
  bool digit = false;
  bool dot = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digit;
}

// The one check of a containment's name; "auto" (absent) only where it fits.
void store_mechanism(const Slot& s, const std::string& text, const std::string& name,
                     const std::string& shown) {
  if (s.mechanism != nullptr && text == "auto") {
    s.mechanism->reset();
    return;
  }
  const std::optional<Containment> c = containment_from_string(text);
  if (!c) {
    throw UsageError(name + ": expected " + (s.mechanism != nullptr ? "auto, " : "") +
                     "process_group, subreaper, pid_namespace or cgroup, got " + shown);
  }
  if (s.mechanism != nullptr) *s.mechanism = *c;
  if (s.min_mechanism != nullptr) *s.min_mechanism = *c;
}

// HOST:INSIDE[:ro] (or :rw) on the host.
Volume parse_volume(const std::string& text, const std::string& name) {
  Volume v;
  std::string rest = text;
  const auto last = rest.rfind(':');
  if (last != std::string::npos && (rest.substr(last + 1) == "ro" || rest.substr(last + 1) == "rw") &&
      rest.find(':') != last) {
    v.read_only = rest.substr(last + 1) == "ro";
    rest.resize(last);
  }
  const auto colon = rest.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
      rest.find(':', colon + 1) != std::string::npos) {
    throw UsageError(name + ": expected HOST:INSIDE or HOST:INSIDE:ro, got '" + text + "'");
  }
  v.source = rest.substr(0, colon);
  v.target = rest.substr(colon + 1);
  return v;
}

void store_env(RunSpec& spec, const std::string& name, std::string value, const std::string& shown,
               const std::string& option) {
  if (name.find('\0') != std::string::npos) {
    // Named as a JSON string: a NUL left raw would cut the message there.
    throw UsageError(option + ": the variable name " +
                     nlohmann::json(name).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                     " contains a NUL byte");
  }
  if (name.empty() || name.find('=') != std::string::npos) {
    throw UsageError(option + " expects NAME=VALUE, got '" + shown + "'");
  }
  spec.env.emplace_back(name, std::move(value));
}

}  // namespace

bool RunSpec::isolated() const {
  return network == "none" || read_only || scratch_mb || pids_limit || cpu_limit || file_size_limit_mb ||
         (!podman && !volumes.empty());
}

const std::vector<FieldInfo>& run_fields() {
  return kFields;
}

const FieldInfo& info(Field f) {
  return kFields[index(f)];
}

void set_from_text(RunSettings& settings, Field field, const std::string& text) {
  const FieldInfo& fi = info(field);
  const std::string name(fi.flag);
  Slot s = slot(settings.spec, field);
  switch (fi.kind) {
    case ValueKind::seconds:
    case ValueKind::optional_seconds: {
      if (!plain_decimal(text)) {
        throw UsageError(name + ": expected decimal seconds above 0 (at most 1e9), got '" + text + "'");
      }
      const double v = checked_seconds(std::strtod(text.c_str(), nullptr), name, text);
      if (s.seconds != nullptr) *s.seconds = v;
      if (s.optional_seconds != nullptr) *s.optional_seconds = v;
      break;
    }
    case ValueKind::count:
    case ValueKind::positive_count: {
      const bool positive = fi.kind == ValueKind::positive_count;
      if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
        throw UsageError(name + ": expected a whole number of " + (positive ? "at least 1" : "0 or more") +
                         ", got '" + text + "'");
      }
      const std::size_t nonzero = text.find_first_not_of('0');
      const std::string digits = nonzero == std::string::npos ? "0" : text.substr(nonzero);
      if (digits.size() > 18) throw UsageError(name + ": number too large: '" + text + "'");
      const std::size_t value =
          checked_count(std::strtoull(digits.c_str(), nullptr, 10), positive, name, text);
      if (s.count != nullptr) *s.count = value;
      if (s.optional_count != nullptr) *s.optional_count = value;
      break;
    }
    case ValueKind::flag: *s.flag = true; break;
    case ValueKind::text: *s.text = text; break;
    case ValueKind::text_list: s.list->push_back(text); break;
    case ValueKind::env: {
      const std::size_t eq = text.find('=');
      if (eq == std::string::npos) throw UsageError(name + " expects NAME=VALUE, got '" + text + "'");
      store_env(settings.spec, text.substr(0, eq), text.substr(eq + 1), text, name);
      break;
    }
    case ValueKind::mechanism: store_mechanism(s, text, name, "'" + text + "'"); break;
  }
  settings.given.set(index(field));
}

void set_from_json(RunSettings& settings, Field field, const nlohmann::json& value) {
  const FieldInfo& fi = info(field);
  const std::string name = name_of(fi, Spelling::json);
  Slot s = slot(settings.spec, field);
  auto wrong = [&](const char* expected) {
    return UsageError(name + ": expected " + expected + ", got " + value.dump());
  };
  switch (fi.kind) {
    case ValueKind::seconds:
      if (!value.is_number()) throw wrong("a number of seconds");
      *s.seconds = checked_seconds(value.get<double>(), name, value.dump());
      break;
    case ValueKind::optional_seconds:
      if (value.is_null()) {
        s.optional_seconds->reset();
      } else if (value.is_number()) {
        *s.optional_seconds = checked_seconds(value.get<double>(), name, value.dump());
      } else {
        throw wrong("a number of seconds or null");
      }
      break;
    case ValueKind::count:
    case ValueKind::positive_count: {
      const bool positive = fi.kind == ValueKind::positive_count;
      if (value.is_null() && s.optional_count != nullptr) {
        s.optional_count->reset();
        break;
      }
      const bool whole =
          value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0);
      if (!whole) {
        throw wrong(positive ? "a whole number of at least 1" : "a whole number of 0 or more");
      }
      const std::size_t n = checked_count(value.get<unsigned long long>(), positive, name, value.dump());
      if (s.count != nullptr) *s.count = n;
      if (s.optional_count != nullptr) *s.optional_count = n;
      break;
    }
    case ValueKind::flag:
      if (!value.is_boolean()) throw wrong("true or false");
      *s.flag = value.get<bool>();
      break;
    case ValueKind::text:
      if (value.is_null()) {
        s.text->reset();
      } else if (value.is_string()) {
        *s.text = value.get<std::string>();
      } else {
        throw wrong("a string or null");
      }
      break;
    case ValueKind::text_list:
      if (!value.is_array()) throw wrong("an array of strings");
      s.list->clear();
      for (const auto& item : value) {
        if (!item.is_string()) throw wrong("an array of strings");
        s.list->push_back(item.get<std::string>());
      }
      break;
    case ValueKind::env:
      if (!value.is_object()) throw wrong("an object of strings, {\"NAME\": \"VALUE\"}");
      settings.spec.env.clear();
      for (const auto& [key, item] : value.items()) {
        if (!item.is_string()) throw wrong("an object of strings, {\"NAME\": \"VALUE\"}");
        store_env(settings.spec, key, item.get<std::string>(), key, name);
      }
      break;
    case ValueKind::mechanism:
      if (value.is_null() && s.mechanism != nullptr) {
        s.mechanism->reset();
      } else if (value.is_string()) {
        store_mechanism(s, value.get<std::string>(), name, value.dump());
      } else {
        throw wrong(s.mechanism != nullptr ? "a containment's name or null" : "a containment's name");
      }
      break;
  }
  settings.given.set(index(field));
}

void check_conflicts(const RunSettings& settings, Spelling spelling, bool containers_known) {
  auto named = [&](Field f) { return name_of(info(f), spelling); };
  if (settings.has(Field::stdin_data) && settings.has(Field::stdin_file) && settings.spec.stdin_data &&
      settings.spec.stdin_file) {
    throw UsageError(named(Field::stdin_data) + " and " + named(Field::stdin_file) + " exclude each other");
  }
  if (settings.spec.containment && *settings.spec.containment < settings.spec.min_containment) {
    throw UsageError(named(Field::containment) + " " + std::string(to_string(*settings.spec.containment)) +
                     " is weaker than " + named(Field::min_containment) + " " +
                     std::string(to_string(settings.spec.min_containment)));
  }
  if (settings.spec.network && *settings.spec.network != "none" && *settings.spec.network != "host") {
    throw UsageError(named(Field::network) + ": expected none or host, got '" + *settings.spec.network + "'");
  }
  if (!containers_known) return;
  const bool container = settings.spec.podman.has_value();
  if (!container) {
    for (const std::string& v : settings.spec.volumes) parse_volume(v, named(Field::volumes));
  }
  for (const FieldInfo& fi : kFields) {
    if (!settings.has(fi.field)) continue;
    if (fi.scope == Scope::container_only && !container) {
      throw UsageError(named(fi.field) + " needs " + named(Field::podman));
    }
    if (fi.scope == Scope::local_only && container) {
      throw UsageError(named(fi.field) + " cannot be used with " + named(Field::podman) +
                       (fi.field == Field::clear_env   ? " (the container's environment comes from its image)"
                        : fi.field == Field::cpu_limit ? " (podman has no limit of a container's CPU time)"
                                                       : " (containers are bounded by podman's --memory)"));
    }
  }
}

RunSettings merge(const RunSettings& defaults, const RunSettings& job) {
  RunSettings out = defaults;
  RunSpec job_spec = job.spec;  // slot() hands out mutable pointers
  for (const FieldInfo& fi : kFields) {
    if (!job.has(fi.field)) continue;
    Slot to = slot(out.spec, fi.field);
    Slot from = slot(job_spec, fi.field);
    if (to.seconds != nullptr) *to.seconds = *from.seconds;
    if (to.optional_seconds != nullptr) *to.optional_seconds = *from.optional_seconds;
    if (to.count != nullptr) *to.count = *from.count;
    if (to.optional_count != nullptr) *to.optional_count = *from.optional_count;
    if (to.flag != nullptr) *to.flag = *from.flag;
    if (to.text != nullptr) *to.text = *from.text;
    if (to.list != nullptr) to.list->insert(to.list->end(), from.list->begin(), from.list->end());
    if (to.env != nullptr) to.env->insert(to.env->end(), from.env->begin(), from.env->end());
    if (to.mechanism != nullptr) *to.mechanism = *from.mechanism;
    if (to.min_mechanism != nullptr) *to.min_mechanism = *from.min_mechanism;
  }
  if (job.has(Field::stdin_data)) out.spec.stdin_file = job.spec.stdin_file;
  if (job.has(Field::stdin_file)) out.spec.stdin_data = job.spec.stdin_data;
  out.spec.argv = job.spec.argv;
  out.given |= job.given;
  // The job's own fields against the kind of run it ends up being.
  RunSettings own = job;
  own.spec.podman = out.spec.podman;
  check_conflicts(own, Spelling::json, true);
  check_conflicts(out, Spelling::json, false);  // e.g. the job's containment under the defaults' minimum
  return out;
}

Options to_options(const RunSpec& spec, std::optional<std::string> stdin_bytes,
                   std::optional<double> timeout) {
  Options options{
      .timeout = Seconds(timeout.value_or(spec.timeout)),
      .max_output_size = spec.max_output,
      .tail = spec.tail,
      .stdin_data = std::move(stdin_bytes),
      .stdin_write_timeout = Seconds(spec.stdin_timeout),
      .cwd = spec.cwd,
      .containment = spec.containment,
      .min_containment = spec.min_containment,
  };
  if (spec.podman) {
    // --memory-limit-mb of a container is its cgroup's limit; the
    // container's environment is only what --env gives.
    options.container = Container{.image = *spec.podman,
                                  .volumes = spec.volumes,
                                  .entrypoint = spec.entrypoint,
                                  .podman_args = spec.podman_args,
                                  .cgroup_memory_limit_mb = spec.memory_limit_mb};
    // Isolation in a container is podman's own flags.
    auto& args = options.container->podman_args;
    if (spec.network) args.push_back("--network=" + *spec.network);
    if (spec.read_only) args.emplace_back("--read-only");
    if (spec.scratch_mb)
      args.push_back("--tmpfs=/tmp:rw,size=" + std::to_string(*spec.scratch_mb) + "m,mode=1777");
    if (spec.pids_limit) args.push_back("--pids-limit=" + std::to_string(*spec.pids_limit));
    if (spec.file_size_limit_mb)
      args.push_back("--ulimit=fsize=" + std::to_string(*spec.file_size_limit_mb << 20));
    if (!spec.env.empty()) options.env = Environment(spec.env.begin(), spec.env.end());
    return options;
  }
  if (spec.isolated()) {
    Isolation i;
    i.network = spec.network == "none" ? Network::none : Network::host;
    i.read_only = spec.read_only;
    i.scratch_mb = spec.scratch_mb;
    for (const std::string& v : spec.volumes) i.volumes.push_back(parse_volume(v, "--volume"));
    i.pids_limit = spec.pids_limit;
    if (spec.cpu_limit) i.cpu_limit = Seconds(*spec.cpu_limit);
    i.file_size_limit_mb = spec.file_size_limit_mb;
    // The kernel enforces the memory limit where it can; the watchdog stays.
    if (spec.memory_limit_mb && kernel_memory_limit_available()) i.memory_limit_mb = spec.memory_limit_mb;
    options.isolation = std::move(i);
  }
  options.memory_limit_mb = spec.memory_limit_mb;
  options.memory_watchdog_interval = Seconds(spec.memory_interval);
  if (spec.clear_env || !spec.env.empty()) {
    Environment env = spec.clear_env ? Environment{} : inherited_env();
    for (const auto& [name, value] : spec.env) env[name] = value;
    options.env = std::move(env);
  }
  return options;
}

}  // namespace bounded_subprocess::cli
