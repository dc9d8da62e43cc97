#include "batch_jobs.hpp"

#include <algorithm>
#include <cstring>

namespace bounded_subprocess::cli {

namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr std::size_t kBigLine = std::size_t{1} << 20;

std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// nlohmann's parse errors start with "[json.exception.parse_error.101] ".
std::string clean_json_error(const std::string& what) {
  const std::size_t close = what.find("] ");
  return what.rfind("[json.exception", 0) == 0 && close != std::string::npos ? what.substr(close + 2) : what;
}

const FieldInfo* field_named(std::string_view json_name) {
  for (const FieldInfo& fi : run_fields()) {
    if (fi.json == json_name) return &fi;
  }
  return nullptr;
}

}  // namespace

LineReader::LineReader(const asio::any_io_executor& ex, int fd, std::size_t max_line)
    : source_(ex, fd), max_line_(max_line) {}

LineReader::Got LineReader::next(std::string& line, std::size_t& line_no) {
  for (;;) {
    const std::size_t nl = buf_.find('\n', scan_);
    if (nl != std::string::npos) {
      ++line_no_;
      line_no = line_no_;
      const bool too_long = skipping_ || nl - pos_ > max_line_;
      if (!too_long) line.assign(buf_, pos_, nl - pos_);
      pos_ = scan_ = nl + 1;
      skipping_ = false;
      skipped_ = 0;
      return too_long ? Got::too_long : Got::line;
    }
    scan_ = buf_.size();
    if (skipping_ || buf_.size() - pos_ > max_line_) {  // drop the bytes of a line that is too long
      skipping_ = true;
      skipped_ += buf_.size() - pos_;
      buf_.clear();
      pos_ = scan_ = 0;
      if (skipped_ > max_line_ * 2) {
        line_no = line_no_ + 1;
        return Got::endless;
      }
    }
    if (eof_) {
      if (pos_ == buf_.size() && !skipping_) return Got::eof;
      ++line_no_;
      line_no = line_no_;
      const bool too_long = skipping_;
      if (!too_long) line.assign(buf_, pos_, std::string::npos);
      buf_.clear();
      pos_ = scan_ = 0;
      skipping_ = false;
      skipped_ = 0;
      return too_long ? Got::too_long : Got::line;
    }
    // Keep the buffer to about one line: drop what was returned once it is
    // half the buffer, or whenever the next chunk would take the buffer
    // past one line and a chunk.
    if (pos_ > 0 && (pos_ >= buf_.size() / 2 || buf_.size() > max_line_)) {
      buf_.erase(0, pos_);
      scan_ -= pos_;
      pos_ = 0;
    }
    const std::size_t old = buf_.size();
    // A long line gets its whole room at once: growing by doubling would
    // hold the old copy and the new one (twice the cap) for a moment.
    if (old + kChunk > buf_.capacity() && old >= kBigLine && max_line_ < SIZE_MAX - 2 * kChunk) {
      buf_.reserve(max_line_ + 2 * kChunk);
    }
    buf_.resize(old + kChunk);
    std::size_t got = 0;
    FdSource::Status status;
    try {
      status = source_.read_now(buf_.data() + old, kChunk, &got);
    } catch (...) {
      buf_.resize(old);
      throw;
    }
    buf_.resize(old + got);
    if (status == FdSource::Status::eof) eof_ = true;
    if (status == FdSource::Status::would_block) return Got::wait;
  }
}

std::uint64_t id_key(const nlohmann::json& id) {
  if (id.is_string()) return fnv1a(id.get_ref<const std::string&>(), fnv1a("s:"));
  return fnv1a(id.dump(), fnv1a("i:"));
}

std::uint64_t line_key(std::size_t line_no) {
  return fnv1a(std::to_string(line_no), fnv1a("l:"));
}

bool valid_id(const nlohmann::json& id) {
  return id.is_string() || id.is_number_integer();
}

std::optional<nlohmann::json> peek_id(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("id");
  if (it == j.end() || !valid_id(*it)) return std::nullopt;
  return *it;
}

std::variant<Job, BadLine> parse_job(std::string_view line, std::size_t line_no) {
  BadLine bad{line_no, std::nullopt, {}};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& e) {
    bad.error = "line " + std::to_string(line_no) + " is not JSON: " + clean_json_error(e.what());
    return bad;
  }
  if (!j.is_object()) {
    bad.error = "line " + std::to_string(line_no) + " is not a JSON object";
    return bad;
  }
  auto id = j.find("id");
  if (id == j.end()) {
    bad.error = "line " + std::to_string(line_no) + " has no \"id\"";
    return bad;
  }
  if (!valid_id(*id)) {
    bad.error = "\"id\" must be a string or an integer, got " + id->dump();
    return bad;
  }
  bad.id = *id;
  Job job{line_no, *id, {}};
  try {
    auto args = j.find("args");
    if (args == j.end()) throw UsageError("missing \"args\" (the program and its arguments)");
    if (!args->is_array() || args->empty()) {
      throw UsageError("\"args\" must be a non-empty array of strings, got " + args->dump());
    }
    for (const auto& a : *args) {
      if (!a.is_string())
        throw UsageError("\"args\" must be a non-empty array of strings, got " + args->dump());
      job.settings.spec.argv.push_back(a.get<std::string>());
    }
    if (job.settings.spec.argv.front().empty()) throw UsageError("\"args\": the program is an empty string");
    for (const auto& [key, value] : j.items()) {
      if (key == "id" || key == "args") continue;
      const FieldInfo* fi = field_named(key);
      if (fi == nullptr) throw UsageError("unknown field '" + key + "'");
      set_from_json(job.settings, fi->field, value);
    }
    check_conflicts(job.settings, Spelling::json, /*containers_known=*/false);
  } catch (const UsageError& e) {
    bad.error = e.what();
    return bad;
  }
  return job;
}

std::uint8_t KeySet::get(std::uint64_t key) const {
  if (keys_.empty()) return 0;
  const std::size_t i = find(key);
  return keys_[i] == 0 ? 0 : flags_[i];
}

std::uint8_t KeySet::add(std::uint64_t key, std::uint8_t flags) {
  if ((size_ + 1) * 10 > keys_.size() * 7) grow();
  if (key == 0) key = 1;
  const std::size_t i = find(key);
  if (keys_[i] == 0) {
    keys_[i] = key;
    flags_[i] = 0;
    ++size_;
  }
  const std::uint8_t before = flags_[i];
  flags_[i] = static_cast<std::uint8_t>(before | flags);
  return before;
}

std::size_t KeySet::find(std::uint64_t key) const {
  if (key == 0) key = 1;
  const std::size_t mask = keys_.size() - 1;
  std::size_t i = static_cast<std::size_t>(key * 0x9e3779b97f4a7c15ULL >> 20) & mask;
  while (keys_[i] != 0 && keys_[i] != key) i = (i + 1) & mask;
  return i;
}

void KeySet::grow() {
  std::vector<std::uint64_t> old_keys = std::move(keys_);
  std::vector<std::uint8_t> old_flags = std::move(flags_);
  const std::size_t capacity = old_keys.empty() ? 1024 : old_keys.size() * 2;
  keys_.assign(capacity, 0);
  flags_.assign(capacity, 0);
  for (std::size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] == 0) continue;
    const std::size_t j = find(old_keys[i]);
    keys_[j] = old_keys[i];
    flags_[j] = old_flags[i];
  }
}

}  // namespace bounded_subprocess::cli
