// A consumer of the installed bounded_subprocess, as a user would write it:
// the umbrella header, a sync `run` with designated-initializer options and
// an `async_run` on an io_context with a callback. Prints "consumer ok" and
// exits 0 on success.
#include <bounded_subprocess/bounded_subprocess.hpp>

#include <asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <iostream>

int main() {
  using namespace std::chrono_literals;
  namespace bs = bounded_subprocess;
  bs::Result r = bs::run({"/bin/sh", "-c", "echo hello; echo oops >&2; exit 3"},
                         {.timeout = 10s, .max_output_size = 64});
  if (r.exit_code != 3 || r.out.data != "hello\n" || r.err.data != "oops\n" || r.timeout) {
    std::cerr << "unexpected result: " << r << "\n";
    return 1;
  }
  bs::Result t = bs::run({"sleep", "10"}, {.timeout = 0.2s});
  if (!t.timeout || t.exit_code != -1) {
    std::cerr << "unexpected timeout result: " << t << "\n";
    return 1;
  }

  asio::io_context io;
  bool called = false;
  bs::Result a;
  bs::async_run(io, {"/bin/sh", "-c", "echo async"}, {.timeout = 10s},
                [&](std::error_code error, bs::Result result) {
                  called = !error;
                  a = std::move(result);
                });
  io.run();
  if (!called || a.exit_code != 0 || a.out.data != "async\n") {
    std::cerr << "unexpected async result: " << a << "\n";
    return 1;
  }
  std::cout << "consumer ok: " << r << "; async: " << a << "\n";
  return 0;
}
