#include "utf8.hpp"

#include <cstddef>

namespace bounded_subprocess::cli {

namespace {

// Length of the sequence that `lead` starts (1 to 4), or 0 when `lead` cannot
// start a sequence (a continuation byte, an overlong 2-byte lead, or a lead
// beyond U+10FFFF).
std::size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// The allowed range of the byte right after `lead` (Unicode Table 3-7): the
// narrow ranges rule out overlong forms, surrogates and code points above
// U+10FFFF.
bool second_byte_fits(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
  }
}

bool is_continuation(unsigned char b) {
  return b >= 0x80 && b <= 0xBF;
}

}  // namespace

std::string drop_invalid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    const std::size_t len = sequence_length(lead);
    if (len == 1) {
      out.push_back(bytes[i]);
      ++i;
      continue;
    }
    if (len == 0) {  // cannot start a sequence: drop this byte alone
      ++i;
      continue;
    }
    // Count how many bytes of the sequence are valid; stop at the first
    // misfit without consuming it.
    std::size_t good = 1;
    while (good < len && i + good < n) {
      const auto b = static_cast<unsigned char>(bytes[i + good]);
      const bool fits = good == 1 ? second_byte_fits(lead, b) : is_continuation(b);
      if (!fits) break;
      ++good;
    }
    if (good == len) out.append(bytes.substr(i, len));
    i += good;  // complete: keep it; broken: drop its valid prefix, resume at the misfit
  }
  return out;
}

}  // namespace bounded_subprocess::cli
