// A consumer of the installed bounded_subprocess: runs a command with
// designated-initializer options and checks the result. Prints
// "consumer ok" and exits 0 on success.
#include <bounded_subprocess/bounded_subprocess.hpp>

#include <chrono>
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
  std::cout << "consumer ok: " << r << "\n";
  return 0;
}
