// `bounded-run batch-merge`: joins the outputs of a batch's shards into one
// file of results, each job once, and says what is missing.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "batch_jobs.hpp"
#include "batch_main.hpp"
#include "batch_output.hpp"
#include "report.hpp"
#include "run_flags.hpp"

namespace bounded_subprocess::cli {

namespace {

constexpr std::uint8_t kMerged = 1;
constexpr std::size_t kShownMissing = 10;

int open_or_throw(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError("cannot open " + what + " '" + path + "': " + std::strerror(errno));
  return fd;
}

struct Fd {
  int fd;
  ~Fd() { ::close(fd); }
};

}  // namespace

int batch_merge_main(int argc, char** argv) {
  std::vector<std::string> shards;
  std::string output, jobs;
  bool overwrite = false, quiet = false;
  CLI::App app{
      "Joins the result files of a batch's shards (e.g. out/0.jsonl ... out/31.jsonl) into one, keeping "
      "the first result of each job, and checks them: cut-off lines, duplicates, cancelled results, and "
      "with --jobs the jobs that have no result.",
      "bounded-run batch-merge"};
  app.add_option("SHARD", shards, "Result files of bounded-run batch")->required();
  app.add_option("-o,--output", output, "Write the merged results to FILE (default: stdout)")
      ->type_name("FILE");
  app.add_flag("--overwrite", overwrite, "Replace --output if it already holds data");
  app.add_option("--jobs", jobs, "The batch's JOBS file: report the jobs without a result")
      ->type_name("FILE");
  app.add_flag("-q,--quiet", quiet, "Print nothing on stderr unless something is wrong");
  app.footer(
      "Exit status: 0 when every result is whole and once (and, with --jobs, every job has one); 1 "
      "when something is missing, cut off, duplicated or cancelled (the merge is still written); "
      "125 on bounded-run's own errors.");
  std::vector<std::string> args(argv + 1, argv + argc);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(std::move(args));
  } catch (const CLI::CallForHelp&) {
    return write_all(STDOUT_FILENO, app.help()) ? 0 : 125;
  } catch (const CLI::ParseError& e) {
    throw UsageError(one_line(e.what()));
  }

  ::signal(SIGPIPE, SIG_IGN);
  ResultSink sink(output.empty() ? std::nullopt : std::optional<std::string>(output), false, overwrite);
  KeySet keys;
  std::size_t merged = 0, duplicates = 0, cancelled = 0, cut = 0, missing = 0;
  std::string problems;
  for (const std::string& path : shards) {
    Fd in{open_or_throw(path, "shard")};
    FileLines lines(in.fd);
    bool complete = true;
    std::size_t number = 0;
    while (auto text = lines.next(&complete)) {
      ++number;
      if (!complete) {
        ++cut;
        problems += "  " + path + ": last line cut off (dropped)\n";
        break;
      }
      nlohmann::ordered_json j = nlohmann::ordered_json::parse(*text, nullptr, false);
      auto id = j.is_object() ? j.find("id") : j.end();
      auto line = j.is_object() ? j.find("line") : j.end();
      std::uint64_t key = 0;
      if (id != j.end() && valid_id(*id)) {
        key = id_key(*id);
      } else if (line != j.end() && line->is_number_unsigned()) {
        key = line_key(line->get<std::size_t>());
      } else {
        throw UsageError(path + " line " + std::to_string(number) +
                         " is not a result line of bounded-run batch");
      }
      if (keys.add(key, kMerged) & kMerged) {
        ++duplicates;
        continue;
      }
      auto reason = j.find("reason");
      if (reason != j.end() && *reason == "cancelled") ++cancelled;
      sink.write_line(*text);
      ++merged;
    }
  }
  if (!jobs.empty()) {
    Fd in{open_or_throw(jobs, "--jobs")};
    FileLines lines(in.fd);
    bool complete = true;
    std::size_t number = 0;
    while (auto text = lines.next(&complete)) {
      ++number;
      if (text->find_first_not_of(" \t\r") == std::string::npos) continue;
      auto id = peek_id(*text);
      const bool found = (id && keys.get(id_key(*id))) || keys.get(line_key(number));
      if (found) continue;
      if (++missing <= kShownMissing) {
        problems += "  no result for " + (id ? "id " + id->dump() : "line " + std::to_string(number)) + "\n";
      }
    }
    if (missing > kShownMissing)
      problems += "  ... and " + std::to_string(missing - kShownMissing) + " more\n";
  }
  const bool ok = duplicates == 0 && cancelled == 0 && cut == 0 && missing == 0;
  if (!quiet || !ok) {
    std::string s =
        "bounded-run batch-merge: " + std::to_string(merged) + " results from " +
        std::to_string(shards.size()) + " files; " + std::to_string(duplicates) + " duplicates dropped, " +
        std::to_string(cancelled) + " cancelled, " + std::to_string(cut) + " cut-off lines" +
        (jobs.empty() ? "" : ", " + std::to_string(missing) + " jobs without a result") + "\n" + problems;
    write_all(STDERR_FILENO, s);
  }
  return ok ? 0 : 1;
}

}  // namespace bounded_subprocess::cli
