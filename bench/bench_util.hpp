// Shared helpers of bs_bench: clocks, medians, interleaved measurement and
// the `name: value` output that docs/performance.md quotes.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace bsbench {

using Clock = std::chrono::steady_clock;

/// Milliseconds elapsed since `t0`.
double ms_since(Clock::time_point t0);

/// Median of `v` (mean of the two middle values for an even count); 0 if empty.
double median(std::vector<double> v);
/// Largest value of `v`; 0 if empty.
double worst(const std::vector<double>& v);

/// Prints one figure as `name: value` on stdout, flushed at once.
void figure(std::string_view name, double value, int decimals = 3);
/// Prints a comment line `# text` (context, skip reasons, goal verdicts).
void note(std::string_view text);

/// Records a goal `value <= limit` for the summary printed at the end.
void goal(std::string_view name, double value, double limit);
/// Prints `# goal NAME <= LIMIT: met|MISSED (value V)` for every recorded goal.
void print_goals();

/// Marks the run as failed (a measured operation did not do what it should);
/// `main` then exits non-zero. Prints the reason as a comment line.
void fail(std::string_view why);
bool failed();

/// Processes whose parent is this process (living or zombie), from /proc.
int count_children();

/// CPU time (user + system) of this process so far, all threads, in seconds.
double cpu_seconds();

/// Raises the soft RLIMIT_NOFILE of this process to its hard limit; returns
/// the soft limit in effect afterwards.
long raise_nofile_limit();

/// The first executable `name` on PATH (the program the library and
/// posix_spawnp run); `name` itself when there is none.
std::string path_of(const std::string& name);

/// Runs `rounds` rounds; each round calls every function once, so measured
/// code and its floor alternate (A B A B ...). The order inside a round is
/// shuffled (the same seed every run), so that no side always goes first
/// and none always follows the same other side: a contained run leaves the
/// kernel work of its namespaces' teardown behind, which the next side pays,
/// and with a fixed cyclic order that was always the same side.
/// Returns, per function, the values it returned (one per round).
std::vector<std::vector<double>> interleave(int rounds, const std::vector<std::function<double()>>& fns);

/// The scale factor from the command line (--quick divides the counts).
int scaled(int n);
void set_quick(bool quick);

}  // namespace bsbench
