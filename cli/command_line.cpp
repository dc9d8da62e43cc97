#include "command_line.hpp"

#include <cassert>

#include "run_spec.hpp"

namespace bounded_subprocess::cli {

namespace {

// The column where `--help` starts an option's description.
constexpr std::size_t kHelpColumn = 30;

// `text` with each newline followed by `indent` spaces.
std::string indented(std::string_view text, std::size_t indent) {
  std::string out;
  for (const char c : text) {
    out.push_back(c);
    if (c == '\n') out.append(indent, ' ');
  }
  return out;
}

// One line of `--help`: the spelling padded to the column, then the help.
void help_line(std::string& out, const std::string& left, std::string_view help) {
  out.append("  ").append(left);
  if (left.size() + 2 < kHelpColumn) {
    out.append(kHelpColumn - 2 - left.size(), ' ');
  } else {
    out += "\n";
    out.append(kHelpColumn, ' ');
  }
  out += indented(help, kHelpColumn);
  out += "\n";
}

}  // namespace

CommandLine::CommandLine(std::string_view usage_name, std::string_view description, std::string_view footer)
    : usage_name_(usage_name), description_(description), footer_(footer) {}

std::size_t CommandLine::add(OptionDef def) {
  Option option{std::move(def), {}, {}};
  const std::string_view names = option.def.names;
  const std::size_t comma = names.find(',');
  if (comma == std::string_view::npos) {
    option.long_name = names;
  } else {
    option.short_name = names.substr(0, comma);
    option.long_name = names.substr(comma + 1);
  }
  assert(option.long_name.substr(0, 2) == "--" &&
         (option.short_name.empty() || option.short_name.size() == 2));
  options_.push_back(std::move(option));
  return options_.size() - 1;
}

void CommandLine::positional(std::string_view name, std::string_view help, bool many) {
  positional_name_ = name;
  positional_help_ = help;
  positional_many_ = many;
}

const CommandLine::Option* CommandLine::find(std::string_view name) const {
  for (const Option& option : options_) {
    if (name == option.long_name || (!option.short_name.empty() && name == option.short_name)) return &option;
  }
  return nullptr;
}

std::string CommandLine::Parsed::value_or(std::size_t option, std::string fallback) const {
  return values[option].empty() ? fallback : values[option].back();
}

CommandLine::Parsed CommandLine::parse(const std::vector<std::string>& words, Positionals where) const {
  Parsed parsed;
  parsed.values.resize(options_.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--") {
      parsed.positionals.insert(parsed.positionals.end(), words.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                words.end());
      break;
    }
    if (word.size() < 2 || word[0] != '-') {  // "-" alone is a word too (stdin)
      if (where == Positionals::end_options) {
        parsed.positionals.insert(parsed.positionals.end(), words.begin() + static_cast<std::ptrdiff_t>(i),
                                  words.end());
        break;
      }
      parsed.positionals.push_back(word);
      continue;
    }
    if (word == "-h" || word == "--help") {
      parsed.help = true;
      return parsed;
    }
    if (word == "--version" && !version_.empty()) {
      parsed.version = true;
      return parsed;
    }
    // The option's name, and a value attached to it: "--name=VALUE", or for
    // a short alias "-oVALUE".
    std::string_view name = word;
    std::string_view attached;
    bool has_attached = false;
    if (word[1] == '-') {
      const std::size_t eq = name.find('=');
      if (eq != std::string_view::npos) {
        attached = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_attached = true;
      }
    } else if (word.size() > 2) {
      attached = name.substr(2);
      name = name.substr(0, 2);
      has_attached = true;
    }
    const Option* option = find(name);
    if (option == nullptr || (has_attached && word[1] != '-' && option->def.value_name.empty())) {
      throw UsageError("unknown option " + word + " (see " + std::string(usage_name_) + " --help)");
    }
    auto& values = parsed.values[static_cast<std::size_t>(option - options_.data())];
    if (option->def.value_name.empty()) {
      if (has_attached) throw UsageError(std::string(name) + " takes no value, got '" + word + "'");
      values.emplace_back();
      continue;
    }
    if (!values.empty() && !option->def.repeatable) {
      throw UsageError(std::string(option->long_name) + " given more than once");
    }
    if (has_attached) {
      values.emplace_back(attached);
    } else if (i + 1 < words.size()) {
      values.push_back(words[++i]);  // whatever it is, even "-1" or "--"
    } else {
      throw UsageError(std::string(name) + " needs a value (" + std::string(option->def.value_name) + ")");
    }
  }
  return parsed;
}

std::string CommandLine::help() const {
  std::string out(description_);
  out.append("\nUsage: ").append(usage_name_).append(" [OPTIONS]");
  if (!positional_name_.empty())
    out.append(" ").append(positional_name_).append(positional_many_ ? "..." : "");
  out += "\n\n";
  if (!positional_name_.empty()) {
    out += "Positionals:\n";
    help_line(out, std::string(positional_name_).append(positional_many_ ? " ..." : ""), positional_help_);
    out += "\n";
  }
  out += "Options:\n";
  help_line(out, "-h,--help", "Print this help message and exit");
  if (!version_.empty()) help_line(out, "--version", "Print the version and exit");
  for (const Option& option : options_) {
    std::string left(option.def.names);
    if (!option.def.value_name.empty()) left.append(" ").append(option.def.value_name);
    if (option.def.repeatable) left.append(" ...");
    help_line(out, left, option.def.help);
  }
  if (!footer_.empty()) out.append("\n").append(footer_).append("\n");
  return out;
}

}  // namespace bounded_subprocess::cli
