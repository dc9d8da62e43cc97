// The per-entry-point defaults and rejections of the public Options (see the table
// in bounded_subprocess/options.hpp).
#include "engine/entry_options.hpp"

#include <stdexcept>
#include <string>

#include "engine/supervisor.hpp"

namespace bounded_subprocess::detail {

namespace {

[[noreturn]] void reject(EntryPoint entry, const char* field, const char* why) {
  throw std::invalid_argument(std::string(entry_point_name(entry)) + ": option '" + field +
                              "' is not supported by this entry point (" + why + ")");
}

bool is_async(EntryPoint entry) {
  return entry == EntryPoint::async_run || entry == EntryPoint::open_line_stream ||
         entry == EntryPoint::async_interactive;
}

void check_on_interrupt(const Options& o, EntryPoint entry) {
  if (!o.on_interrupt) return;
  if (is_async(entry)) reject(entry, "on_interrupt", "an async entry point never blocks a thread in a wait");
  if (entry == EntryPoint::run_stream_lines)
    reject(entry, "on_interrupt",
           "not offered by this entry point: only run and Interactive report interrupted waits");
}

// The watchdog samples the processes of the run: with a container, that is
// the podman client, whose memory says nothing about the container's.
void check_container_watchdog(const Options& o, EntryPoint entry) {
  if (!o.container) return;
  if (o.memory_limit_mb)
    reject(entry, "memory_limit_mb",
           "with a container the watchdog would measure the podman client, not the container: "
           "use container->cgroup_memory_limit_mb");
  if (o.memory_watchdog_interval)
    reject(entry, "memory_watchdog_interval",
           "with a container there is no watchdog: use container->cgroup_memory_limit_mb");
}

// Isolation is the host's: a container has podman's own flags for it.
void check_container_isolation(const Options& o, EntryPoint entry) {
  if (o.container && o.isolation)
    reject(entry, "isolation",
           "with a container, use podman's own flags (container->podman_args: --network=none, --read-only, "
           "--pids-limit, ...)");
}

void check_line_size(std::size_t size) {
  if (size == 0) throw std::invalid_argument("max_line_size must be at least 1");
}

}  // namespace

const char* entry_point_name(EntryPoint entry) noexcept {
  switch (entry) {
    case EntryPoint::run: return "bounded_subprocess::run";
    case EntryPoint::async_run: return "bounded_subprocess::async_run";
    case EntryPoint::run_stream_lines: return "bounded_subprocess::run_stream_lines";
    case EntryPoint::open_line_stream: return "bounded_subprocess::open_line_stream";
    case EntryPoint::interactive: return "bounded_subprocess::Interactive";
    case EntryPoint::async_interactive: return "bounded_subprocess::AsyncInteractive";
  }
  return "bounded_subprocess";
}

namespace {

// The engine's options for an entry point that captures with these bounds: every
// other field is the user's, or its default.
EngineOptions engine_options(const Options& o, std::size_t max_output_size, bool tail) {
  return {.timeout = o.timeout.value_or(defaults::timeout),
          .max_output_size = max_output_size,
          .tail = tail,
          .env = o.env,
          .stdin_data = o.stdin_data,
          .stdin_write_timeout = o.stdin_write_timeout.value_or(defaults::stdin_write_timeout),
          .cwd = o.cwd,
          .memory_limit_mb = o.memory_limit_mb,
          .memory_watchdog_interval = o.memory_watchdog_interval.value_or(defaults::memory_watchdog_interval),
          .containment = o.containment,
          .min_containment = o.min_containment,
          .on_interrupt = o.on_interrupt,
          .isolation = o.isolation};
}

}  // namespace

EngineOptions run_settings(const Options& o, EntryPoint entry) {
  if (o.max_line_size)
    reject(entry, "max_line_size",
           "it captures whole outputs; lines are for run_stream_lines, open_line_stream and Interactive");
  check_on_interrupt(o, entry);
  check_container_watchdog(o, entry);
  check_container_isolation(o, entry);
  EngineOptions e =
      engine_options(o, o.max_output_size.value_or(defaults::max_output_size), o.tail.value_or(false));
  validate_run_options(e);
  return e;
}

StreamSettings stream_settings(const Options& o, EntryPoint entry) {
  if (o.tail && !*o.tail)
    reject(entry, "tail",
           "a line stream keeps the last max_output_size bytes of stderr; tail = false cannot be");
  check_on_interrupt(o, entry);
  check_container_watchdog(o, entry);
  check_container_isolation(o, entry);
  // The stderr tail; stdout goes to the line sink. on_interrupt is
  // rejected above for these entry points, so it is empty here.
  StreamSettings s{
      .engine = engine_options(o, o.max_output_size.value_or(defaults::max_output_size), /*tail=*/true),
      .max_line_size = o.max_line_size.value_or(defaults::stream_max_line_size)};
  check_line_size(s.max_line_size);
  validate_run_options(s.engine);
  return s;
}

InteractiveSettings interactive_settings(const Options& o, EntryPoint entry) {
  constexpr const char* kNoDeadline = "each call takes its own timeout";
  if (o.timeout) reject(entry, "timeout", kNoDeadline);
  if (o.max_output_size)
    reject(entry, "max_output_size", "stdout is read line by line and stderr is inherited");
  if (o.tail) reject(entry, "tail", "stdout is read line by line and stderr is inherited");
  if (o.stdin_data) reject(entry, "stdin_data", "stdin is written by write()");
  if (o.stdin_write_timeout) reject(entry, "stdin_write_timeout", "each write takes its own timeout");
  if (o.memory_limit_mb) reject(entry, "memory_limit_mb", "it has no memory watchdog");
  if (o.memory_watchdog_interval) reject(entry, "memory_watchdog_interval", "it has no memory watchdog");
  if (o.container) reject(entry, "container", "it runs on the host only");
  check_on_interrupt(o, entry);
  InteractiveSettings s{.max_line_size = o.max_line_size.value_or(defaults::interactive_max_line_size),
                        .env = o.env,
                        .cwd = o.cwd,
                        .containment = o.containment,
                        .min_containment = o.min_containment,
                        .on_interrupt = o.on_interrupt,
                        .isolation = o.isolation};
  check_line_size(s.max_line_size);
  return s;
}

}  // namespace bounded_subprocess::detail
