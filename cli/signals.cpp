#include "signals.hpp"

#include <signal.h>

#include <system_error>
#include <utility>

namespace bounded_subprocess::cli {

void reset_inherited_signals() noexcept {
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGCHLD, &sa, nullptr);
}

StopSignals::StopSignals(asio::io_context& io) : set_(io) {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    std::error_code ec;
    set_.add(sig, ec);  // on failure the signal keeps its default action
  }
}

StopSignals::~StopSignals() {
  stop();
}

void StopSignals::watch(std::function<void(int)> on_signal) {
  on_signal_ = std::move(on_signal);
  wait_next();
}

void StopSignals::wait_next() {
  set_.async_wait([this](std::error_code ec, int signo) {
    if (ec || stopped_) return;
    wait_next();
    on_signal_(signo);
  });
}

void StopSignals::stop() noexcept {
  if (stopped_) return;
  stopped_ = true;
  std::error_code ec;
  set_.cancel(ec);
  set_.clear(ec);  // the last registration of a signal puts SIG_DFL back
}

}  // namespace bounded_subprocess::cli
