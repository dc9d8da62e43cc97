// The library's own error codes, for the async entry points' completions. Every
// async operation completes with `void(std::error_code, T)` (see
// docs/cpp-api.md, "Completion convention"): Asio's codes (`asio::error::operation_aborted`,
// `eof`, `timed_out`, `broken_pipe`) for what Asio names, these for the rest.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace bounded_subprocess {

/// Outcomes the async entry points report that have no Asio or errno name. Compare
/// with `ec == bounded_subprocess::errc::cleanup_failed`.
enum class errc {
  /// The run happened but its container could not be removed; the Result is
  /// still delivered and `Result::cleanup_error` says what podman reported.
  cleanup_failed = 1,
  /// The end hook of a line stream (`StreamHooks::on_end`) threw something
  /// other than a `std::system_error` (whose own code is reported instead).
  end_hook_failed,
  /// The engine hit an unexpected error while supervising (not a
  /// `std::system_error` or `std::bad_alloc`, which keep their own codes);
  /// the group was killed and the child reaped.
  internal_error,
};

/// The category of `errc`, named "bounded_subprocess".
const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace bounded_subprocess

template <>
struct std::is_error_code_enum<bounded_subprocess::errc> : std::true_type {};
