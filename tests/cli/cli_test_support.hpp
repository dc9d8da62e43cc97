// Support for the bounded-run tests: run the built command as a child (with
// bounded_subprocess::run itself) and look at its status, stdout and stderr.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bounded_subprocess/bounded_subprocess.hpp"
#include "leak_check.hpp"

#ifndef BOUNDED_RUN_PATH
#error "BOUNDED_RUN_PATH must be defined by the build"
#endif

namespace cli_test {

namespace bs = bounded_subprocess;
using namespace std::chrono_literals;

inline std::string bounded_run_path() {
  return BOUNDED_RUN_PATH;
}

/// What one invocation of bounded-run did.
struct Invocation {
  int status = -1;  ///< bounded-run's exit status (-1 if it did not exit by itself)
  std::string out;  ///< its stdout, raw
  std::string err;  ///< its stderr, raw
  bs::Result result;
};

/// Runs `bounded-run ARGS...` (bounded itself: 60 s, 8 MiB of output kept)
/// and asserts it exited by itself.
inline Invocation bounded_run(const std::vector<std::string>& args, bs::Options outer = {}) {
  std::vector<std::string> argv{bounded_run_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  outer.timeout = 60s;
  outer.max_output_size = 8u << 20;
  Invocation inv;
  inv.result = bs::run(argv, outer);
  EXPECT_EQ(inv.result.reason, bs::EndReason::exited) << "bounded-run itself: " << inv.result;
  inv.status = inv.result.reason == bs::EndReason::exited ? inv.result.exit_code : -1;
  inv.out = inv.result.out.data;
  inv.err = inv.result.err.data;
  return inv;
}

/// Parses bounded-run's --json output; fails the test if it is not exactly
/// one JSON object followed by a newline.
inline nlohmann::json parse_json(const Invocation& inv) {
  EXPECT_FALSE(inv.out.empty()) << "no JSON; stderr: " << inv.err;
  EXPECT_EQ(inv.out.back(), '\n') << inv.out;
  EXPECT_EQ(inv.out.find('\n'), inv.out.size() - 1) << "more than one line: " << inv.out;
  nlohmann::json j = nlohmann::json::parse(inv.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_object()) << inv.out;
  return j;
}

/// A file with `bytes` in a fresh directory under the temp dir, removed at
/// the end of the scope.
class TempFile {
 public:
  explicit TempFile(const std::string& bytes) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bs_cli_XXXXXX").string();
    char* dir = ::mkdtemp(tmpl.data());
    EXPECT_NE(dir, nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/data";
    std::ofstream f(path_, std::ios::binary);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::string path_;
};

/// The `pgid N` the inner program printed (see `print-ids` and the shell
/// snippets that `echo pgid $$`), or -1.
inline pid_t inner_pgid(const std::string& text) {
  return static_cast<pid_t>(bs_test::field_after(text, "pgid"));
}

}  // namespace cli_test
