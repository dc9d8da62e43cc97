#include "batch_options.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "run_flags.hpp"

extern char** environ;

namespace bounded_subprocess::cli {

namespace {

std::size_t available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) {
    return static_cast<std::size_t>(CPU_COUNT(&set));
  }
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<std::size_t>(n) : 1;
}

// A whole number in plain decimal digits, or nullopt.
std::optional<unsigned long long> whole(const std::string& text) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::strtoull(text.c_str(), nullptr, 10);
}

std::size_t positive(const std::string& text, const std::string& option) {
  auto v = whole(text);
  if (!v || *v == 0) throw UsageError(option + ": expected a whole number of at least 1, got '" + text + "'");
  return static_cast<std::size_t>(*v);
}

Shard shard_from_option(const std::string& text) {
  const std::size_t slash = text.find('/');
  auto i = slash == std::string::npos ? std::nullopt : whole(text.substr(0, slash));
  auto n = slash == std::string::npos ? std::nullopt : whole(text.substr(slash + 1));
  if (!i || !n || *n == 0 || *i >= *n) {
    throw UsageError("--shard: expected I/N with 0 <= I < N, got '" + text + "'");
  }
  return Shard{static_cast<std::size_t>(*i), static_cast<std::size_t>(*n), Shard::By::line, "--shard"};
}

std::optional<Shard> shard_from_slurm(const std::map<std::string, std::string>& env) {
  auto get = [&](const char* name) -> std::optional<unsigned long long> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    auto v = whole(it->second);
    if (!v) throw UsageError(std::string(name) + " is not a whole number: '" + it->second + "'");
    return v;
  };
  const auto id = get("SLURM_ARRAY_TASK_ID");
  const auto count = get("SLURM_ARRAY_TASK_COUNT");
  if (!id || !count) return std::nullopt;
  const auto min = get("SLURM_ARRAY_TASK_MIN").value_or(0);
  const auto max = get("SLURM_ARRAY_TASK_MAX");
  auto step = get("SLURM_ARRAY_TASK_STEP");
  if (!step && max && *count > 1 && (*max - min) % (*count - 1) == 0) step = (*max - min) / (*count - 1);
  const unsigned long long s = step.value_or(1);
  const bool even = *count > 0 && s > 0 && *id >= min && (*id - min) % s == 0 && (*id - min) / s < *count &&
                    (!max || min + (*count - 1) * s == *max);
  if (!even) {
    throw UsageError("this Slurm job array is not one evenly stepped range (SLURM_ARRAY_TASK_ID " +
                     std::to_string(*id) + ", MIN " + std::to_string(min) + ", COUNT " +
                     std::to_string(*count) + "): use --array=0-(N-1) or give --shard I/N");
  }
  return Shard{static_cast<std::size_t>((*id - min) / s), static_cast<std::size_t>(*count), Shard::By::line,
               "SLURM_ARRAY_TASK_ID"};
}

std::string expand_output(const std::string& pattern, std::size_t index) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size() && (pattern[i + 1] == 'a' || pattern[i + 1] == '%')) {
      out += pattern[i + 1] == 'a' ? std::to_string(index) : "%";
      ++i;
    } else {
      out.push_back(pattern[i]);
    }
  }
  return out;
}

}  // namespace

std::map<std::string, std::string> slurm_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    if (entry.rfind("SLURM_ARRAY_TASK_", 0) != 0) continue;
    const std::size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return env;
}

std::variant<BatchConfig, BatchHelp> parse_batch_command_line(int argc, const char* const* argv,
                                                              const std::map<std::string, std::string>& env) {
  CommandLine command(
      "bounded-run batch",
      "Runs every job of JOBS (JSON Lines: one {\"id\": ..., \"args\": [...], OPTIONS...} per line; '-' "
      "reads stdin) with the bounds of bounded-run, in parallel on one event loop, and writes one JSON line "
      "per job (its id and the result object of `bounded-run --json`) as each ends. Run options on the "
      "command line are defaults that a job's own fields override (same names, e.g. --max-output / "
      "\"max_output\").",
      "Exit status: 0 once every job has a result line (whatever the jobs did; bad lines and programs "
      "that cannot start are results with \"error\"); 130, 143, 129 or 131 after SIGINT, SIGTERM, "
      "SIGHUP or SIGQUIT, which kill the running jobs and write them as cancelled (--resume re-runs "
      "them); 75 when jobs could not start for lack of resources even after waiting (their lines say "
      "\"resumable\": true; --resume runs them); 125 on bounded-run's own errors.");
  command.positional("JOBS", "The jobs, one JSON object per line ('-': stdin)", /*many=*/false);
  const std::size_t output_opt =
      command.add({"-o,--output", "FILE", "Append results to FILE (default: stdout); %a is the shard index"});
  const std::size_t parallel_opt =
      command.add({"--parallel", "N", "Jobs running at once (default: the CPUs this process may use)"});
  const std::size_t resume_opt = command.add(
      {"--resume", "",
       "Skip the jobs whose result is already in --output (a regular file); re-run those that were "
       "cancelled or could not start for lack of resources"});
  const std::size_t overwrite_opt =
      command.add({"--overwrite", "", "Start --output afresh even if it holds results"});
  const std::size_t shard_opt =
      command.add({"--shard", "I/N", "Run only shard I of N (default: from a Slurm job array, else all)"});
  const std::size_t shard_by_opt = command.add(
      {"--shard-by", "line|id", "Split shards by line position or by a hash of the id (default line)"});
  const std::size_t confirm_opt =
      command.add({"--confirm-timeouts", "",
                   "Re-run each timed-out job alone at the end; its result keeps both outcomes"});
  const std::size_t budget_opt =
      command.add({"--memory-budget-mb", "M",
                   "Start a job only when the memory limits of the running jobs and its own fit in M MiB "
                   "(a job without a limit counts as M / --parallel)"});
  const std::size_t progress_opt =
      command.add({"--progress", "MODE", "auto (a bar on a terminal, else lines), bar, lines or none"});
  const std::size_t interval_opt =
      command.add({"--progress-interval", "SECONDS", "Seconds between progress lines (default 5)"});
  const std::size_t quiet_opt = command.add({"-q,--quiet", "", "No progress and no summary on stderr"});
  const RunFlagIds run_flags = add_run_flags(command);

  const std::vector<std::string> words(argv + (argc > 0 ? 1 : 0), argv + argc);
  const CommandLine::Parsed parsed = command.parse(words, CommandLine::Positionals::anywhere);
  if (parsed.help) return BatchHelp{command.help()};
  if (parsed.positionals.empty()) throw UsageError("missing JOBS (usage: bounded-run batch [OPTIONS] JOBS)");
  if (parsed.positionals.size() > 1) {
    throw UsageError("one JOBS file only, got '" + parsed.positionals[0] + "' and '" + parsed.positionals[1] +
                     "'");
  }

  // An option given with an empty value ("--shard \"$SHARD\"" with SHARD
  // unset) is an error, never the same as leaving the option out.
  for (const std::size_t opt :
       {output_opt, parallel_opt, shard_opt, shard_by_opt, budget_opt, progress_opt, interval_opt}) {
    if (parsed.given(opt) && parsed.values[opt].back().empty()) {
      throw UsageError(std::string(command.name(opt)) + ": the value is an empty string" +
                       (opt == shard_opt ? " (expected I/N; leave --shard out to run every job)" : ""));
    }
  }
  const std::string output = parsed.value_or(output_opt, ""), parallel = parsed.value_or(parallel_opt, ""),
                    shard = parsed.value_or(shard_opt, ""), shard_by = parsed.value_or(shard_by_opt, "line"),
                    budget = parsed.value_or(budget_opt, ""),
                    progress = parsed.value_or(progress_opt, "auto"),
                    interval = parsed.value_or(interval_opt, "");
  BatchConfig config;
  config.input = parsed.positionals.front();
  config.resume = parsed.given(resume_opt);
  config.overwrite = parsed.given(overwrite_opt);
  config.confirm_timeouts = parsed.given(confirm_opt);
  config.quiet = parsed.given(quiet_opt);
  config.defaults = run_settings_from(parsed, run_flags);
  check_conflicts(config.defaults, Spelling::flag, /*containers_known=*/false);
  if (config.defaults.spec.stdin_file == "-") {
    throw UsageError("--stdin-file -: bounded-run's stdin cannot feed a batch's jobs");
  }
  config.parallel = parallel.empty() ? available_cpus() : positive(parallel, "--parallel");
  if (!budget.empty()) config.memory_budget_mb = positive(budget, "--memory-budget-mb");
  if (!shard.empty()) {
    config.shard = shard_from_option(shard);
  } else if (auto slurm = shard_from_slurm(env)) {
    config.shard = *slurm;
  }
  if (shard_by == "id") {
    config.shard.by = Shard::By::id;
  } else if (shard_by != "line") {
    throw UsageError("--shard-by: expected line or id, got '" + shard_by + "'");
  }
  if (progress == "auto") {
    config.progress = ProgressMode::automatic;
  } else if (progress == "bar") {
    config.progress = ProgressMode::bar;
  } else if (progress == "lines") {
    config.progress = ProgressMode::lines;
  } else if (progress == "none") {
    config.progress = ProgressMode::none;
  } else {
    throw UsageError("--progress: expected auto, bar, lines or none, got '" + progress + "'");
  }
  if (config.quiet) config.progress = ProgressMode::none;
  if (!interval.empty()) {
    RunSettings scratch;  // the one check of a duration
    try {
      set_from_text(scratch, Field::timeout, interval);
    } catch (const UsageError&) {
      throw UsageError("--progress-interval: expected decimal seconds above 0, got '" + interval + "'");
    }
    config.progress_interval = scratch.spec.timeout;
  }
  if (!output.empty()) config.output = expand_output(output, config.shard.index);
  if (config.resume && !config.output) throw UsageError("--resume needs --output FILE");
  if (config.resume && config.overwrite) throw UsageError("--resume and --overwrite exclude each other");
  if (config.input.empty()) throw UsageError("JOBS is an empty string");
  return config;
}

}  // namespace bounded_subprocess::cli
