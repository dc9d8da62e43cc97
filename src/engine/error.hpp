// The error code an async completion reports for an exception caught inside
// the library (see bounded_subprocess/error.hpp).
#pragma once

#include <exception>
#include <system_error>

#include "bounded_subprocess/error.hpp"

namespace bounded_subprocess::detail {

/// A `std::system_error`'s own code; `std::errc::not_enough_memory` for
/// `std::bad_alloc`; `fallback` for anything else; no error for null.
std::error_code error_code_of(const std::exception_ptr& error, errc fallback = errc::internal_error) noexcept;

}  // namespace bounded_subprocess::detail
