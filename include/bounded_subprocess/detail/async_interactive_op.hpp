// Internal to async_interactive.hpp: how the operations of AsyncInteractive
// hand an erased completion handler to the composed operations compiled in
// the library (src/interactive/interactive_async.cpp). Users never name
// anything here; include bounded_subprocess/async_interactive.hpp.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/cancellation_type.hpp>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>

#include "bounded_subprocess/detail/async_completion.hpp"
#include "bounded_subprocess/detail/cancel_bridge.hpp"
#include "bounded_subprocess/options.hpp"

namespace bounded_subprocess::detail {

class AsyncInteractiveImpl;
using AsyncInteractiveImplPtr = std::shared_ptr<AsyncInteractiveImpl>;

enum class InteractiveOp { write, read, close };

/// What each operation completes with, after its error code.
template <InteractiveOp Op>
struct InteractiveValue;
template <>
struct InteractiveValue<InteractiveOp::write> {
  using type = std::size_t;
};
template <>
struct InteractiveValue<InteractiveOp::read> {
  using type = std::string;
};
template <>
struct InteractiveValue<InteractiveOp::close> {
  using type = int;
};

/// An operation's own cancellation signal, emitted on the object's strand
/// when the caller's slot fires (null when the caller has no slot).
using InteractiveSignal = std::shared_ptr<asio::cancellation_signal>;

const asio::any_io_executor& interactive_strand(const AsyncInteractiveImplPtr& impl) noexcept;

/// The claim of the one pending operation of a kind (a misuse check only):
/// made by the call (not inside the initiation: Asio 1.22 cannot propagate
/// an exception thrown there through use_awaitable), given back when the
/// operation completes, or by the destructor if it was never initiated.
class InteractiveClaim {
 public:
  /// Throws std::logic_error while an operation of `op`'s kind is pending.
  InteractiveClaim(AsyncInteractiveImplPtr impl, InteractiveOp op);
  InteractiveClaim(InteractiveClaim&& o) noexcept : impl_(std::move(o.impl_)), op_(o.op_) {}
  InteractiveClaim& operator=(InteractiveClaim&&) = delete;
  ~InteractiveClaim();
  const AsyncInteractiveImplPtr& impl() const noexcept { return impl_; }
  /// The operation has taken the claim over.
  void release() noexcept { impl_.reset(); }

 private:
  AsyncInteractiveImplPtr impl_;
  InteractiveOp op_;
};

// Start a claimed operation on the object's strand.
void interactive_start_write(InteractiveClaim claim, std::string data, Seconds timeout,
                             Completion<std::size_t> done, InteractiveSignal signal);
void interactive_start_read(InteractiveClaim claim, Seconds timeout, Completion<std::string> done,
                            InteractiveSignal signal);
void interactive_start_close(InteractiveClaim claim, Seconds nice_timeout, Completion<int> done,
                             InteractiveSignal signal);
/// Thread-safe: emits `signal` on the object's strand (a no-op once its
/// operation is over).
void interactive_cancel(const std::weak_ptr<AsyncInteractiveImpl>& impl,
                        const std::weak_ptr<asio::cancellation_signal>& signal,
                        asio::cancellation_type_t type) noexcept;

template <InteractiveOp Op>
struct InitiateInteractive {
  using executor_type = asio::any_io_executor;
  using Value = typename InteractiveValue<Op>::type;
  executor_type ex;
  executor_type get_executor() const noexcept { return ex; }

  using Cancel =
      CancelBridge<AsyncInteractiveImpl, std::weak_ptr<asio::cancellation_signal>, interactive_cancel>;

  template <class Handler, class... Args>
  void operator()(Handler&& handler, InteractiveClaim claim, Args&&... args) const {
    auto slot = asio::get_associated_cancellation_slot(handler);
    auto done = make_completion<Value>(std::forward<Handler>(handler), ex);
    InteractiveSignal signal;
    if (slot.is_connected()) signal = std::make_shared<asio::cancellation_signal>();
    // The cancellation handler goes in before the start: on a multi-threaded
    // context the operation may complete (and clear the slot) at once.
    if (signal) slot.template emplace<Cancel>(Cancel{claim.impl(), signal});
    if constexpr (Op == InteractiveOp::write) {
      interactive_start_write(std::move(claim), std::forward<Args>(args)..., std::move(done),
                              std::move(signal));
    } else if constexpr (Op == InteractiveOp::read) {
      interactive_start_read(std::move(claim), std::forward<Args>(args)..., std::move(done),
                             std::move(signal));
    } else {
      interactive_start_close(std::move(claim), std::forward<Args>(args)..., std::move(done),
                              std::move(signal));
    }
  }
};

}  // namespace bounded_subprocess::detail
