// The final handler of a composed operation compiled in the library: the
// caller's erased completion, with the cancellation slot of the operation's
// own signal. The initiation (in the public headers) makes the signal when
// the caller's handler has a cancellation slot, and the caller's slot emits
// it on the operation's strand, where async_compose's cancellation state
// expects it.
#pragma once

#include <asio/cancellation_signal.hpp>

#include <memory>
#include <system_error>
#include <utility>

#include "bounded_subprocess/detail/async_completion.hpp"

namespace bounded_subprocess::detail {

template <class T>
struct SignalledCompletion {
  Completion<T> done;
  std::shared_ptr<asio::cancellation_signal> signal;  // null: not cancellable

  using cancellation_slot_type = asio::cancellation_slot;
  cancellation_slot_type get_cancellation_slot() const noexcept {
    return signal ? signal->slot() : asio::cancellation_slot();
  }
  void operator()(std::error_code ec, T value) { done(ec, std::move(value)); }
};

}  // namespace bounded_subprocess::detail
