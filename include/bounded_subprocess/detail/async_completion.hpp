// Internal to the async entry points: a type-erased, move-only completion handler,
// so that the operations themselves are compiled once in the library while
// the caller keeps every Asio completion token (callback, use_future,
// use_awaitable, deferred). Include bounded_subprocess/async.hpp instead.
#pragma once

#include <asio/associated_allocator.hpp>
#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/bind_allocator.hpp>
#include <asio/execution.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>

namespace bounded_subprocess::detail {

/// The erased side of a completion `void(std::error_code, T)`.
template <class T>
class CompletionBase {
 public:
  /// Hands the outcome to the handler through its associated executor (never
  /// inline) and frees this object first. Consumes *this.
  virtual void complete(std::error_code error, T value) = 0;
  /// Frees this object without calling the handler.
  virtual void discard() noexcept = 0;

 protected:
  ~CompletionBase() = default;
};

/// Owning pointer to an erased completion; destroying it unused discards it.
template <class T>
class Completion {
 public:
  Completion() noexcept = default;
  explicit Completion(CompletionBase<T>* p) noexcept : p_(p) {}
  Completion(Completion&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  Completion& operator=(Completion&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion() { reset(); }

  explicit operator bool() const noexcept { return p_ != nullptr; }
  /// Completes the operation (posting the handler); afterwards empty.
  void operator()(std::error_code error, T value) {
    std::exchange(p_, nullptr)->complete(error, std::move(value));
  }
  void reset() noexcept {
    if (p_ != nullptr) std::exchange(p_, nullptr)->discard();
  }

 private:
  CompletionBase<T>* p_ = nullptr;
};

/// The typed side: holds the handler, a work guard on its associated
/// executor, and lives in memory from its associated allocator; calls the
/// handler as `h(error, value)`.
template <class T, class Handler, class IoExecutor>
class CompletionFor final : public CompletionBase<T> {
  using HandlerExecutor = asio::associated_executor_t<Handler, IoExecutor>;
  using Work = std::decay_t<decltype(asio::prefer(std::declval<const HandlerExecutor&>(),
                                                  asio::execution::outstanding_work.tracked))>;
  using Alloc = typename std::allocator_traits<asio::associated_allocator_t<Handler>>::template rebind_alloc<
      CompletionFor>;
  using Traits = std::allocator_traits<Alloc>;

 public:
  template <class H>
  CompletionFor(H&& handler, const IoExecutor& io_ex)
      : work_(asio::prefer(asio::get_associated_executor(handler, io_ex),
                           asio::execution::outstanding_work.tracked)),
        handler_(std::forward<H>(handler)) {}

  template <class H>
  static Completion<T> make(H&& handler, const IoExecutor& io_ex) {
    Alloc alloc(asio::get_associated_allocator(handler));
    CompletionFor* p = Traits::allocate(alloc, 1);
    try {
      Traits::construct(alloc, p, std::forward<H>(handler), io_ex);
    } catch (...) {
      Traits::deallocate(alloc, p, 1);
      throw;
    }
    return Completion<T>(p);
  }

  void complete(std::error_code error, T value) override {
    Alloc self_alloc(asio::get_associated_allocator(handler_));
    Handler handler(std::move(handler_));
    Work work(std::move(work_));
    destroy_with(self_alloc);  // free our memory before the upcall, as Asio does
    // The operation is over: our cancellation handler must go.
    asio::get_associated_cancellation_slot(handler).clear();
    auto alloc = asio::get_associated_allocator(handler);
    asio::post(work,
               asio::bind_allocator(alloc, [h = std::move(handler), error, v = std::move(value)]() mutable {
                 std::move(h)(error, std::move(v));
               }));
  }

  void discard() noexcept override {
    Alloc self_alloc(asio::get_associated_allocator(handler_));
    destroy_with(self_alloc);
  }

 private:
  void destroy_with(Alloc alloc) noexcept {
    Traits::destroy(alloc, this);
    Traits::deallocate(alloc, this, 1);
  }

  Work work_;
  Handler handler_;
};

template <class T, class Handler, class IoExecutor>
Completion<T> make_completion(Handler&& handler, const IoExecutor& io_ex) {
  return CompletionFor<T, std::decay_t<Handler>, IoExecutor>::make(std::forward<Handler>(handler), io_ex);
}

}  // namespace bounded_subprocess::detail
