#include "engine/error.hpp"

#include <new>
#include <string>

namespace bounded_subprocess {

namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "bounded_subprocess"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::cleanup_failed: return "the container could not be removed";
      case errc::end_hook_failed: return "the line stream's end hook failed";
      case errc::internal_error: return "internal error while supervising the run";
    }
    return "unknown bounded_subprocess error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const Category category;
  return category;
}

}  // namespace bounded_subprocess

namespace bounded_subprocess::detail {

std::error_code error_code_of(const std::exception_ptr& error, errc fallback) noexcept {
  if (!error) return {};
  try {
    std::rethrow_exception(error);
  } catch (const std::system_error& e) {
    return e.code();
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  } catch (...) {
    return fallback;
  }
}

}  // namespace bounded_subprocess::detail
