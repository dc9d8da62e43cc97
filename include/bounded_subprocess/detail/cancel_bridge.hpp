// Internal to the async headers: the one bridge from a caller's cancellation
// slot to an operation compiled in the library. Users never name anything
// here; include bounded_subprocess/async.hpp or async_interactive.hpp.
#pragma once

#include <asio/cancellation_type.hpp>

#include <memory>

namespace bounded_subprocess::detail {

/// No key: the operation itself is all a cancellation needs to name.
struct NoCancelKey {};

/// Emplaced in the caller's cancellation slot before the operation starts.
/// Holds the operation weakly (the slot may outlive it) with a `Key` that
/// names what to cancel (the operation's own signal, a wait's ticket), and
/// hands every type but `none` to `Forward`, a function of the library that
/// takes the request to the operation's strand; there the operation's own
/// filter decides which types it honours (see each operation's
/// documentation).
template <class Target, class Key,
          void (*Forward)(const std::weak_ptr<Target>&, const Key&, asio::cancellation_type_t) noexcept>
struct CancelBridge {
  std::weak_ptr<Target> target;
  Key key;
  void operator()(asio::cancellation_type_t type) const {
    if (type != asio::cancellation_type::none) Forward(target, key, type);
  }
};

}  // namespace bounded_subprocess::detail
