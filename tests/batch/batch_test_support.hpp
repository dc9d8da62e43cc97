// Support for the tests of `bounded-run batch`: a JOBS file built in the
// test, the batch run as a direct child (tests/cli/cli_process.hpp) so that
// it can be signalled, and its output read back as one JSON object per line.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_process.hpp"
#include "cli_test_support.hpp"

namespace batch_test {

using nlohmann::json;
using namespace std::chrono_literals;

/// Built with AddressSanitizer or ThreadSanitizer (whose shadow memory and
/// quarantine make RSS and fd counts say little).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;  // g++
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;  // clang
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

/// A scratch folder with a JOBS file (jobs.jsonl) and room for outputs.
class Workspace {
 public:
  Workspace() : dir_("") {}
  const std::string& dir() const { return dir_.dir(); }
  std::string path(const std::string& name) const { return dir_.dir() + "/" + name; }
  std::string jobs() const { return path("jobs.jsonl"); }

  /// Writes the JOBS file: each json as one line, each string as it is.
  void write_jobs(const std::vector<json>& jobs) const {
    std::ofstream f(this->jobs(), std::ios::binary | std::ios::trunc);
    for (const json& j : jobs) f << (j.is_string() ? j.get<std::string>() : j.dump()) << "\n";
  }

 private:
  cli_test::TempFile dir_;
};

/// One line per result, parsed (a line that is not JSON fails the test).
inline std::vector<json> parse_lines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON object: " << line;
    out.push_back(std::move(j));
  }
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "output does not end with a newline";
  return out;
}

inline std::vector<json> read_results(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return parse_lines(s.str());
}

/// The results by id (an id twice fails the test); results without an id
/// are under "line N".
inline std::map<std::string, json> by_id(const std::vector<json>& results) {
  std::map<std::string, json> out;
  for (const json& r : results) {
    const std::string key = r.contains("id")
                                ? (r["id"].is_string() ? r["id"].get<std::string>() : r["id"].dump())
                                : "line " + std::to_string(r.value("line", 0));
    EXPECT_EQ(out.count(key), 0u) << "two results for " << key;
    out[key] = r;
  }
  return out;
}

/// A job: {"id": id, "args": args} plus `extra` fields.
inline json job(const json& id, const std::vector<std::string>& args, json extra = json::object()) {
  json j = {{"id", id}, {"args", args}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

/// `bounded-run batch ARGS...`, waited for (bounded), its status and output.
struct BatchRun {
  int status = -1;
  std::string out;
  std::string err;
  long max_rss_kb = 0;
};

inline BatchRun run_batch(std::vector<std::string> args, const cli_test::ChildSetup& setup = {},
                          std::chrono::seconds limit = 120s) {
  args.insert(args.begin(), "batch");
  cli_test::Spawned br(args, setup);
  BatchRun r;
  r.status = br.wait(limit);
  r.out = br.out();
  r.err = br.err();
  r.max_rss_kb = br.max_rss_kb();
  return r;
}

/// The number of lines of `path` (0 when it does not exist).
inline std::size_t count_lines(const std::string& path) {
  std::ifstream f(path);
  std::size_t n = 0;
  for (std::string line; std::getline(f, line);) ++n;
  return n;
}

/// Waits until `path` has at least `n` lines (at most `limit`).
inline bool wait_for_lines(const std::string& path, std::size_t n, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (count_lines(path) >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

/// The keys of a result object as `bounded-run --json` prints them (in order).
inline std::vector<std::string> single_run_keys() {
  auto inv = cli_test::bounded_run({"--json", "--", "true"});
  json j = json::parse(inv.out, nullptr, false);
  std::vector<std::string> keys;
  // nlohmann::json sorts keys; the order is checked on the raw text instead.
  for (auto& [k, v] : j.items()) keys.push_back(k);
  return keys;
}

}  // namespace batch_test
