// `bounded-run batch-merge`: joins the outputs of a batch's shards into one
// file of results, each job once, and says what is missing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "batch_jobs.hpp"
#include "batch_main.hpp"
#include "batch_output.hpp"
#include "command_line.hpp"
#include "report.hpp"
#include "run_spec.hpp"

namespace bounded_subprocess::cli {

namespace {

constexpr std::uint8_t kMerged = 1;
constexpr std::size_t kShownMissing = 10;

struct Fd {
  int fd;
  ~Fd() { ::close(fd); }
};

int open_or_throw(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) throw UsageError("cannot open " + what + " '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw UsageError("cannot read " + what + " '" + path + "': it is a directory");
  }
  return fd;
}

// Refuses an --output that is one of the files read (--overwrite would
// empty it before it is read).
void refuse_output_among_inputs(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat out {};
  if (output.empty() || ::stat(output.c_str(), &out) != 0) return;
  if (!S_ISREG(out.st_mode) && !S_ISFIFO(out.st_mode)) return;
  for (const std::string& path : inputs) {
    struct stat in {};
    if (::stat(path.c_str(), &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
      throw UsageError("--output '" + output + "' is the input '" + path +
                       "' itself: the merge would overwrite what it reads; give another file");
    }
  }
}

// Reads every line of `path` with the cap of a batch's lines; an over-long
// line (a device, a file of NUL bytes) is an error naming the file.
template <class OnLine>
void for_each_line(const std::string& path, const std::string& what, bool skip_too_long, OnLine on_line) {
  Fd in{open_or_throw(path, what)};
  FileLines lines(in.fd, kMaxJobLine);
  bool complete = true, too_long = false;
  try {
    while (auto text = lines.next(&complete, skip_too_long ? &too_long : nullptr)) {
      if (!on_line(*text, lines.line_no(), complete, too_long)) break;
    }
  } catch (const OverlongLine& e) {
    throw UsageError(what + " '" + path + "': " + e.what() + ", the longest line of bounded-run batch");
  } catch (const std::system_error& e) {
    throw UsageError("cannot read " + what + " '" + path + "': " + e.code().message());
  }
}

}  // namespace

int batch_merge_main(int argc, char** argv) {
  CommandLine command(
      "bounded-run batch-merge",
      "Joins the result files of a batch's shards (e.g. out/0.jsonl ... out/31.jsonl) into one, keeping "
      "the first result of each job, and checks them: cut-off lines, duplicates, cancelled results, and "
      "with --jobs the jobs that have no result.",
      "Exit status: 0 when every result is whole and once (and, with --jobs, every job has one); 1 "
      "when something is missing, cut off, duplicated or cancelled (the merge is still written); "
      "125 on bounded-run's own errors.");
  command.positional("SHARD", "Result files of bounded-run batch", /*many=*/true);
  const std::size_t output_opt =
      command.add({"-o,--output", "FILE", "Write the merged results to FILE (default: stdout)"});
  const std::size_t overwrite_opt =
      command.add({"--overwrite", "", "Replace --output if it already holds data"});
  const std::size_t jobs_opt =
      command.add({"--jobs", "FILE", "The batch's JOBS file: report the jobs without a result"});
  const std::size_t quiet_opt =
      command.add({"-q,--quiet", "", "Print nothing on stderr unless something is wrong"});
  const CommandLine::Parsed parsed =
      command.parse(std::vector<std::string>(argv + 1, argv + argc), CommandLine::Positionals::anywhere);
  if (parsed.help) return write_all(STDOUT_FILENO, command.help()) ? 0 : 125;
  if (parsed.positionals.empty()) {
    throw UsageError("missing SHARD (usage: bounded-run batch-merge [OPTIONS] SHARD...)");
  }
  for (const std::size_t opt : {output_opt, jobs_opt}) {
    if (parsed.given(opt) && parsed.values[opt].back().empty()) {
      throw UsageError(std::string(command.name(opt)) + ": the value is an empty string");
    }
  }
  const std::vector<std::string>& shards = parsed.positionals;
  const std::string output = parsed.value_or(output_opt, ""), jobs = parsed.value_or(jobs_opt, "");
  const bool overwrite = parsed.given(overwrite_opt), quiet = parsed.given(quiet_opt);

  ::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> inputs = shards;
  if (!jobs.empty()) inputs.push_back(jobs);
  refuse_output_among_inputs(output, inputs);
  ResultSink sink(output.empty() ? std::nullopt : std::optional<std::string>(output), false, overwrite);
  KeySet keys;
  std::size_t merged = 0, duplicates = 0, cancelled = 0, unstarted = 0, cut = 0, missing = 0;
  std::string problems;
  for (const std::string& path : shards) {
    for_each_line(path, "shard", false,
                  [&](const std::string& text, std::size_t number, bool complete, bool) {
                    if (!complete) {
                      ++cut;
                      problems += "  " + path + ": last line cut off (dropped)\n";
                      return false;
                    }
                    nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, nullptr, false);
                    if (auto why = not_a_result_line(j)) {
                      throw UsageError(path + " line " + std::to_string(number) +
                                       " is not a result line of bounded-run batch: " + *why);
                    }
                    auto id = j.find("id");
                    const std::uint64_t key =
                        id != j.end() && valid_id(*id) ? id_key(*id) : line_key(j["line"].get<std::size_t>());
                    if (keys.add(key, kMerged) & kMerged) {
                      ++duplicates;
                      return true;
                    }
                    if (rerun_by_resume(j)) ++(j["reason"] == "cancelled" ? cancelled : unstarted);
                    sink.write_line(text);
                    ++merged;
                    return true;
                  });
  }
  if (!jobs.empty()) {
    for_each_line(
        jobs, "--jobs", true, [&](const std::string& text, std::size_t number, bool, bool too_long) {
          if (!too_long && text.find_first_not_of(" \t\r") == std::string::npos) return true;
          auto id = too_long ? std::nullopt : peek_id(text);
          const bool found = (id && keys.get(id_key(*id))) || keys.get(line_key(number));
          if (found) return true;
          if (++missing <= kShownMissing) {
            problems +=
                "  no result for " + (id ? "id " + id->dump() : "line " + std::to_string(number)) + "\n";
          }
          return true;
        });
    if (missing > kShownMissing)
      problems += "  ... and " + std::to_string(missing - kShownMissing) + " more\n";
  }
  const bool ok = duplicates == 0 && cancelled == 0 && unstarted == 0 && cut == 0 && missing == 0;
  if (!quiet || !ok) {
    std::string s =
        "bounded-run batch-merge: " + std::to_string(merged) + " results from " +
        std::to_string(shards.size()) + " files; " + std::to_string(duplicates) + " duplicates dropped, " +
        std::to_string(cancelled) + " cancelled, " +
        (unstarted > 0 ? std::to_string(unstarted) + " not started for lack of resources, " : "") +
        std::to_string(cut) + " cut-off lines" +
        (jobs.empty() ? "" : ", " + std::to_string(missing) + " jobs without a result") + "\n" + problems;
    write_all(STDERR_FILENO, s);
  }
  return ok ? 0 : 1;
}

}  // namespace bounded_subprocess::cli
