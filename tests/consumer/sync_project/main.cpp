// A sync-only consumer of the installed bounded_subprocess: `run` and the
// sync line stream (`run_stream_lines`), with no Asio anywhere in the
// program (the test also checks that none was linked in). Prints
// "consumer sync ok" and exits 0 on success.
#include <bounded_subprocess/run.hpp>
#include <bounded_subprocess/stream.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

int main() {
  using namespace std::chrono_literals;
  namespace bs = bounded_subprocess;
  const bs::Result r = bs::run({"/bin/sh", "-c", "echo hello; exit 3"}, {.timeout = 10s});
  if (r.exit_code != 3 || r.out.data != "hello\n") {
    std::cerr << "unexpected run result: " << r << "\n";
    return 1;
  }
  std::vector<std::string> lines;
  const bs::Result s = bs::run_stream_lines({"/bin/sh", "-c", "printf 'one\\ntwo\\nlast'; echo oops >&2"},
                                            {.timeout = 10s}, [&](std::string_view line) {
                                              lines.emplace_back(line);
                                              return true;
                                            });
  if (s.exit_code != 0 || lines != std::vector<std::string>{"one", "two", "last"} || s.err.data != "oops\n" ||
      s.out.total_bytes != 12) {
    std::cerr << "unexpected stream result: " << s << " (" << lines.size() << " lines)\n";
    return 1;
  }
  // A stop from the callback kills the group.
  int seen = 0;
  const bs::Result stopped =
      bs::run_stream_lines({"/bin/sh", "-c", "while :; do echo y; done"}, {.timeout = 10s},
                           [&](std::string_view) { return ++seen < 3; });
  if (seen != 3 || stopped.reason != bs::EndReason::cancelled) {
    std::cerr << "unexpected stopped stream: " << stopped << " after " << seen << " lines\n";
    return 1;
  }
  std::cout << "consumer sync ok: " << r << "; stream: " << s << "\n";
  return 0;
}
