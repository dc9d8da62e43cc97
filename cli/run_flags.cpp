#include "run_flags.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>

namespace bounded_subprocess::cli {

namespace {

bool repeatable(ValueKind kind) {
  return kind == ValueKind::text_list || kind == ValueKind::env;
}

}  // namespace

void add_run_flags(CLI::App& app, RunFlagTexts& texts) {
  for (const FieldInfo& fi : run_fields()) {
    const auto i = static_cast<std::size_t>(fi.field);
    // const: CLI11's add_flag(name, T&) takes a non-const string as the
    // variable to store the flag in, a const one as its description.
    const std::string help =
        std::string(fi.help) +
        (fi.default_text.empty() ? "" : " (default " + std::string(fi.default_text) + ")");
    CLI::Option* opt = nullptr;
    if (fi.kind == ValueKind::flag) {
      opt = app.add_flag(std::string(fi.flag), help);
    } else {
      // Every value is collected as text and checked by set_from_text, so
      // both spellings of an option share one check.
      opt = app.add_option(std::string(fi.flag), texts.words[i], help)
                ->type_name(std::string(fi.value_name))
                ->allow_extra_args(false);
      if (!repeatable(fi.kind)) opt->expected(1);  // one value (no "..." in --help)
    }
    texts.options[i] = opt;
  }
}

RunSettings run_settings_from(const RunFlagTexts& texts) {
  RunSettings settings;
  for (const FieldInfo& fi : run_fields()) {
    const auto i = static_cast<std::size_t>(fi.field);
    if (fi.kind == ValueKind::flag) {
      if (texts.options[i] != nullptr && texts.options[i]->count() > 0) set_from_text(settings, fi.field, "");
      continue;
    }
    const auto& words = texts.words[i];
    if (words.size() > 1 && !repeatable(fi.kind)) {
      throw UsageError(std::string(fi.flag) + " given more than once");
    }
    for (const std::string& w : words) set_from_text(settings, fi.field, w);
  }
  return settings;
}

std::vector<std::string> attach_empty_values(const CLI::App& app, std::vector<std::string> args,
                                             bool stop_at_first_word) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") break;
    if (word.size() < 2 || word[0] != '-') {
      if (stop_at_first_word) break;  // the program starts
      continue;                       // a positional argument
    }
    if (word[1] != '-') continue;  // short flag (-h)
    const std::size_t eq = word.find('=');
    const std::string name = word.substr(0, eq);
    const CLI::Option* opt = app.get_option_no_throw(name);
    if (opt == nullptr || opt->get_items_expected_max() == 0)
      continue;  // unknown (CLI11 reports it) or a flag
    if (eq == std::string::npos) {
      ++i;  // the next word is this option's value
    } else if (eq + 1 == word.size()) {
      args[i] = name;
      args.insert(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, std::string());
      ++i;
    }
  }
  return args;
}

std::string one_line(std::string text) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace bounded_subprocess::cli
