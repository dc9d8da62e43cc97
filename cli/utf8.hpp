// UTF-8 clean-up for the JSON entry point: captured output is raw bytes, JSON
// strings must be valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace bounded_subprocess::cli {

/// Returns `bytes` with every invalid UTF-8 sequence dropped, as Python's
/// `bytes.decode("utf-8", errors="ignore")` does (the original Python library decodes captured
/// output that way). A sequence is invalid when it starts with a byte that
/// cannot start one (0x80-0xC1, 0xF5-0xFF), is cut short (by the end of the
/// data or by a byte that is not a fitting continuation), is overlong, encodes
/// a UTF-16 surrogate (U+D800-U+DFFF) or lies above U+10FFFF. As in Python,
/// the maximal valid prefix of a broken sequence is dropped as one error and
/// decoding resumes at the offending byte, so a valid character right after a
/// broken one is kept. NUL bytes are valid and kept.
///
/// Errors: none (may throw std::bad_alloc). Thread safety: pure function.
std::string drop_invalid_utf8(std::string_view bytes);

}  // namespace bounded_subprocess::cli
