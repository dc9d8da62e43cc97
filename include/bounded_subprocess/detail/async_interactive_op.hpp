// Internal to async_interactive.hpp: how the operations of AsyncInteractive
// hand an erased completion handler to the state machine compiled in the
// library (src/interactive/interactive_async.cpp). Users never name anything
// here; include bounded_subprocess/async_interactive.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/cancellation_type.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/options.hpp"

namespace bounded_subprocess::detail {

class AsyncInteractiveImpl;
using AsyncInteractiveImplPtr = std::shared_ptr<AsyncInteractiveImpl>;

enum class InteractiveOp { write, read, close };

/// The kind of operation that completes with a T: write (bool), close (int)
/// or read (std::optional<std::string>).
template <class T>
inline constexpr InteractiveOp interactive_op_of = std::is_same_v<T, bool>  ? InteractiveOp::write
                                                   : std::is_same_v<T, int> ? InteractiveOp::close
                                                                            : InteractiveOp::read;

const asio::any_io_executor& interactive_strand(const AsyncInteractiveImplPtr& impl) noexcept;
/// Claims the one slot of `op`'s kind and returns the operation's ticket;
/// throws std::logic_error while an operation of that kind is pending.
std::uint64_t interactive_claim(const AsyncInteractiveImplPtr& impl, InteractiveOp op);
// Start a claimed operation on the object's strand.
void interactive_start_write(const AsyncInteractiveImplPtr& impl, std::uint64_t ticket, std::string data,
                             Seconds timeout, Completion<bool> done);
void interactive_start_read(const AsyncInteractiveImplPtr& impl, std::uint64_t ticket, Seconds timeout,
                            Completion<std::optional<std::string>> done);
void interactive_start_close(const AsyncInteractiveImplPtr& impl, std::uint64_t ticket, Seconds nice_timeout,
                             Completion<int> done);
/// Thread-safe: cancels the operation `ticket` (if it is still pending) on
/// the strand.
void interactive_cancel(const std::weak_ptr<AsyncInteractiveImpl>& impl, InteractiveOp op,
                        std::uint64_t ticket) noexcept;

template <class T>
struct InitiateInteractive {
  using executor_type = asio::any_io_executor;
  static constexpr InteractiveOp op = interactive_op_of<T>;
  AsyncInteractiveImplPtr impl;
  executor_type get_executor() const noexcept { return interactive_strand(impl); }

  struct Cancel {
    std::weak_ptr<AsyncInteractiveImpl> impl;
    InteractiveOp op;
    std::uint64_t ticket;
    void operator()(asio::cancellation_type_t type) const {
      if (type != asio::cancellation_type::none) interactive_cancel(impl, op, ticket);
    }
  };

  template <class Handler, class... Args>
  void operator()(Handler&& handler, Args&&... args) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto done = make_value_completion<T>(std::forward<Handler>(handler), interactive_strand(impl));
    const std::uint64_t ticket = interactive_claim(impl, op);  // a second one throws here
    // The cancellation handler goes in before the start: on a multi-threaded
    // context the operation may complete (and clear the slot) at once.
    if (slot.is_connected()) slot.template emplace<Cancel>(Cancel{impl, op, ticket});
    if constexpr (op == InteractiveOp::write) {
      interactive_start_write(impl, ticket, std::forward<Args>(args)..., std::move(done));
    } else if constexpr (op == InteractiveOp::close) {
      interactive_start_close(impl, ticket, std::forward<Args>(args)..., std::move(done));
    } else {
      interactive_start_read(impl, ticket, std::forward<Args>(args)..., std::move(done));
    }
  }
};

}  // namespace bounded_subprocess::detail
