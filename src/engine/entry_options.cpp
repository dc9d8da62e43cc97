// The per-entry-point defaults and rejections of the public Options (see the table
// in bounded_subprocess/options.hpp).
#include "engine/face_options.hpp"

#include <stdexcept>
#include <string>

#include "engine/supervisor.hpp"

namespace bounded_subprocess::detail {

namespace {

// The defaults, in one place.
constexpr Seconds kDefaultTimeout{15.0};
constexpr std::size_t kRunMaxOutput = 2048;
constexpr std::size_t kStreamStderrKept = 2048;
constexpr std::size_t kStreamMaxLine = 64 * 1024;
constexpr std::size_t kInteractiveMaxLine = 4096;
constexpr Seconds kDefaultStdinWriteTimeout{15.0};
constexpr Seconds kDefaultWatchdogInterval{1.0};

[[noreturn]] void reject(Face face, const char* field, const char* why) {
  throw std::invalid_argument(std::string(face_name(face)) + ": option '" + field +
                              "' is not supported by this face (" + why + ")");
}

bool is_async(Face face) {
  return face == Face::async_run || face == Face::open_line_stream || face == Face::async_interactive;
}

void check_on_interrupt(const Options& o, Face face) {
  if (!o.on_interrupt) return;
  if (is_async(face)) reject(face, "on_interrupt", "an async face never blocks a thread in a wait");
  if (face == Face::run_stream_lines)
    reject(face, "on_interrupt",
           "not offered by this face: only run and Interactive report interrupted waits");
}

// The watchdog samples the processes of the run: with a container, that is
// the podman client, whose memory says nothing about the container's.
void check_container_watchdog(const Options& o, Face face) {
  if (!o.container) return;
  if (o.memory_limit_mb)
    reject(face, "memory_limit_mb",
           "with a container the watchdog would measure the podman client, not the container: "
           "use container->cgroup_memory_limit_mb");
  if (o.memory_watchdog_interval)
    reject(face, "memory_watchdog_interval",
           "with a container there is no watchdog: use container->cgroup_memory_limit_mb");
}

// Isolation is the host's: a container has podman's own flags for it.
void check_container_isolation(const Options& o, Face face) {
  if (o.container && o.isolation)
    reject(face, "isolation",
           "with a container, use podman's own flags (container->podman_args: --network=none, --read-only, "
           "--pids-limit, ...)");
}

void check_line_size(std::size_t size) {
  if (size == 0) throw std::invalid_argument("max_line_size must be at least 1");
}

}  // namespace

const char* face_name(Face face) noexcept {
  switch (face) {
    case Face::run: return "bounded_subprocess::run";
    case Face::async_run: return "bounded_subprocess::async_run";
    case Face::run_stream_lines: return "bounded_subprocess::run_stream_lines";
    case Face::open_line_stream: return "bounded_subprocess::open_line_stream";
    case Face::interactive: return "bounded_subprocess::Interactive";
    case Face::async_interactive: return "bounded_subprocess::AsyncInteractive";
  }
  return "bounded_subprocess";
}

namespace {

// The engine's options for a face that captures with these bounds: every
// other field is the user's, or its default.
EngineOptions engine_options(const Options& o, std::size_t max_output_size, bool tail) {
  return {.timeout = o.timeout.value_or(kDefaultTimeout),
          .max_output_size = max_output_size,
          .tail = tail,
          .env = o.env,
          .stdin_data = o.stdin_data,
          .stdin_write_timeout = o.stdin_write_timeout.value_or(kDefaultStdinWriteTimeout),
          .cwd = o.cwd,
          .memory_limit_mb = o.memory_limit_mb,
          .memory_watchdog_interval = o.memory_watchdog_interval.value_or(kDefaultWatchdogInterval),
          .containment = o.containment,
          .min_containment = o.min_containment,
          .on_interrupt = o.on_interrupt,
          .isolation = o.isolation};
}

}  // namespace

EngineOptions run_settings(const Options& o, Face face) {
  if (o.max_line_size)
    reject(face, "max_line_size",
           "it captures whole outputs; lines are for run_stream_lines, open_line_stream and Interactive");
  check_on_interrupt(o, face);
  check_container_watchdog(o, face);
  check_container_isolation(o, face);
  EngineOptions e = engine_options(o, o.max_output_size.value_or(kRunMaxOutput), o.tail.value_or(false));
  validate_run_options(e);
  return e;
}

StreamSettings stream_settings(const Options& o, Face face) {
  if (o.tail && !*o.tail)
    reject(face, "tail",
           "a line stream keeps the last max_output_size bytes of stderr; tail = false cannot be");
  check_on_interrupt(o, face);
  check_container_watchdog(o, face);
  check_container_isolation(o, face);
  // The stderr tail; stdout goes to the line sink. on_interrupt is
  // rejected above for these faces, so it is empty here.
  StreamSettings s{.engine = engine_options(o, o.max_output_size.value_or(kStreamStderrKept), /*tail=*/true),
                   .max_line_size = o.max_line_size.value_or(kStreamMaxLine)};
  check_line_size(s.max_line_size);
  validate_run_options(s.engine);
  return s;
}

InteractiveSettings interactive_settings(const Options& o, Face face) {
  constexpr const char* kNoDeadline = "each call takes its own timeout";
  if (o.timeout) reject(face, "timeout", kNoDeadline);
  if (o.max_output_size)
    reject(face, "max_output_size", "stdout is read line by line and stderr is inherited");
  if (o.tail) reject(face, "tail", "stdout is read line by line and stderr is inherited");
  if (o.stdin_data) reject(face, "stdin_data", "stdin is written by write()");
  if (o.stdin_write_timeout) reject(face, "stdin_write_timeout", "each write takes its own timeout");
  if (o.memory_limit_mb) reject(face, "memory_limit_mb", "it has no memory watchdog");
  if (o.memory_watchdog_interval) reject(face, "memory_watchdog_interval", "it has no memory watchdog");
  if (o.container) reject(face, "container", "it runs on the host only");
  check_on_interrupt(o, face);
  InteractiveSettings s{.max_line_size = o.max_line_size.value_or(kInteractiveMaxLine),
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
