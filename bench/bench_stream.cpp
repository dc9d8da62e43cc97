// Section for the line streams: 64 MiB of 64-byte lines through the sync
// `run_stream_lines` and the async `LineStream`, against `run` draining the
// same output (the engine without the splitting: the floor of a stream).
#include <asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench_util.hpp"
#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/run.hpp"
#include "bounded_subprocess/stream.hpp"
#include "sections.hpp"

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

namespace bsbench {

namespace {

constexpr std::uint64_t kBytes = 64 * 1024 * 1024;
constexpr std::uint64_t kLine = 64;  // 63 characters and '\n'
constexpr std::uint64_t kLines = kBytes / kLine;

// Takes lines until the end; the handler's first argument is whatever the
// completion convention reports errors with.
struct Reader {
  bs::LineStream* stream;
  std::uint64_t* lines;
  void operator()() const {
    stream->async_next([r = *this](auto, std::optional<std::string> line) {
      if (!line) return;
      if (line->size() + 1 != kLine) fail("stream line of " + std::to_string(line->size()) + " bytes");
      ++*r.lines;
      r();
    });
  }
};

}  // namespace

void section_stream() {
  const std::vector<std::string> argv{
      "sh", "-c", "yes " + std::string(kLine - 1, 'x') + " | head -c " + std::to_string(kBytes)};
  auto sync_stream = [&] {
    std::uint64_t lines = 0;
    const auto t0 = Clock::now();
    const bs::Result r = bs::run_stream_lines(argv, {.timeout = 60s}, [&](std::string_view line) {
      if (line.size() + 1 != kLine) fail("sync stream line of " + std::to_string(line.size()) + " bytes");
      ++lines;
      return true;
    });
    const double ms = ms_since(t0);
    if (r.exit_code != 0 || lines != kLines || r.out.total_bytes != kBytes) fail("sync stream: " + r.str());
    return ms;
  };
  auto async_stream = [&] {
    std::uint64_t lines = 0;
    asio::io_context io(1);
    const auto t0 = Clock::now();
    bs::LineStream stream = bs::open_line_stream(io.get_executor(), argv, {.timeout = 60s});
    Reader{&stream, &lines}();
    io.run();
    const double ms = ms_since(t0);
    const bs::Result& r = stream.result();
    if (r.exit_code != 0 || lines != kLines || r.out.total_bytes != kBytes) fail("async stream: " + r.str());
    return ms;
  };
  auto floor = [&] {
    const auto t0 = Clock::now();
    const bs::Result r = bs::run(argv, {.timeout = 60s, .max_output_size = 1024});
    const double ms = ms_since(t0);
    if (r.exit_code != 0 || r.out.total_bytes != kBytes) fail("stream floor: " + r.str());
    return ms;
  };
  const auto s = interleave(scaled(5), {sync_stream, async_stream, floor});
  const double sync_ms = median(s[0]), async_ms = median(s[1]), fl = median(s[2]);
  figure("stream_64mib_sync_ms", sync_ms, 1);
  figure("stream_64mib_async_ms", async_ms, 1);
  figure("stream_64mib_floor_ms", fl, 1);
  figure("stream_64mib_sync_ratio", sync_ms / fl);
  figure("stream_64mib_async_ratio", async_ms / fl);
  figure("stream_64mib_sync_mlines_per_s", static_cast<double>(kLines) / (sync_ms * 1000.0), 2);
}

}  // namespace bsbench
