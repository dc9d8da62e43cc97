#include "run_flags.hpp"

namespace bounded_subprocess::cli {

RunFlagIds add_run_flags(CommandLine& command) {
  RunFlagIds ids{};
  for (const FieldInfo& fi : run_fields()) {
    std::string help(fi.help);
    if (!fi.default_text.empty()) help += " (default " + std::string(fi.default_text) + ")";
    const bool repeatable = fi.kind == ValueKind::text_list || fi.kind == ValueKind::env;
    // Every value is collected as text and checked by set_from_text, so
    // both spellings of an option (flag and JSON field) share one check.
    ids[static_cast<std::size_t>(fi.field)] =
        command.add({fi.flag, fi.kind == ValueKind::flag ? std::string_view() : fi.value_name,
                     std::move(help), repeatable});
  }
  return ids;
}

RunSettings run_settings_from(const CommandLine::Parsed& parsed, const RunFlagIds& ids) {
  RunSettings settings;
  for (const FieldInfo& fi : run_fields()) {
    const auto& values = parsed.values[ids[static_cast<std::size_t>(fi.field)]];
    if (fi.kind == ValueKind::flag) {
      if (!values.empty()) set_from_text(settings, fi.field, "");
      continue;
    }
    for (const std::string& v : values) set_from_text(settings, fi.field, v);
  }
  return settings;
}

}  // namespace bounded_subprocess::cli
