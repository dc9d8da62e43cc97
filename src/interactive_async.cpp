// The non-template half of AsyncInteractive: the shared state's steps on the
// core, and the object's lifetime. The composed operations themselves are
// templates in async_interactive.hpp.
#include "bounded_subprocess/async_interactive.hpp"

#include <poll.h>

#include <cerrno>
#include <stdexcept>
#include <string>

#include "interactive_core.hpp"

namespace bounded_subprocess {

namespace detail {

namespace {

bool fd_ready(int fd, short events) noexcept {
  if (fd < 0) return false;
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r > 0;
}

// Takes the fd back from Asio (deregistering it and aborting its waits)
// without closing it: the core owns and closes it.
void release(asio::posix::stream_descriptor& desc) noexcept {
  if (desc.is_open()) desc.release();
}

}  // namespace

AsyncInteractiveState::AsyncInteractiveState(const asio::any_io_executor& ex,
                                             const std::vector<std::string>& argv,
                                             const InteractiveOptions& options)
    : executor(ex),
      core(std::make_unique<InteractiveCore>(argv, options)),
      stdin_desc(ex),
      stdout_desc(ex),
      pid_desc(ex),
      write_timer(ex),
      read_timer(ex),
      close_timer(ex) {
  try {
    stdin_desc.assign(core->stdin_fd());
    stdout_desc.assign(core->stdout_fd());
    pid_desc.assign(core->pidfd());
  } catch (...) {
    // The core still owns the fds: take them back from Asio unclosed; the
    // core's destructor then kills and reaps the child.
    release(stdin_desc);
    release(stdout_desc);
    release(pid_desc);
    throw;
  }
}

AsyncInteractiveState::~AsyncInteractiveState() {
  shutdown();
  release(stdin_desc);
  release(stdout_desc);
  release(pid_desc);
}

bool AsyncInteractiveState::can_write() const noexcept {
  return !closing && !core->finished() && stdin_desc.is_open() && !core->child_exited();
}

WriteStep AsyncInteractiveState::write_step(std::string_view data, std::size_t& offset) {
  return core->write_some(data, offset);
}

ReadStep AsyncInteractiveState::read_step() {
  if (closing) return ReadStep::eof;
  return core->read_some();
}

std::optional<std::string> AsyncInteractiveState::pop_line() { return core->pop_line(); }

bool AsyncInteractiveState::child_exited() const noexcept { return core->child_exited(); }

std::optional<int> AsyncInteractiveState::exit_code() const noexcept { return core->exit_code(); }

void AsyncInteractiveState::begin_close() noexcept {
  closing = true;
  release(stdin_desc);
  release(stdout_desc);
  core->close_pipes();
  write_timer.cancel();
  read_timer.cancel();
}

int AsyncInteractiveState::finish_exited() noexcept {
  release(pid_desc);
  close_timer.cancel();
  return core->reap_exited();
}

void AsyncInteractiveState::kill_group() noexcept { detail::kill_group(core->pid()); }

void AsyncInteractiveState::shutdown() noexcept {
  if (!core || core->finished()) return;
  begin_close();
  release(pid_desc);
  close_timer.cancel();
  core->kill_and_reap_now();
}

void AsyncInteractiveState::kick_if_ready(Wait wait) noexcept {
  asio::error_code ignored;
  switch (wait) {
    case Wait::write:
      if (fd_ready(core->stdin_fd(), POLLOUT) || fd_ready(core->pidfd(), POLLIN))
        stdin_desc.cancel(ignored);
      break;
    case Wait::read:
      if (fd_ready(core->stdout_fd(), POLLIN)) stdout_desc.cancel(ignored);
      break;
    case Wait::exit:
      if (fd_ready(core->pidfd(), POLLIN)) pid_desc.cancel(ignored);
      break;
  }
}

}  // namespace detail

AsyncInteractive::AsyncInteractive(const executor_type& executor, std::vector<std::string> argv,
                                   InteractiveOptions options)
    : state_(std::make_shared<detail::AsyncInteractiveState>(executor, argv, options)) {}

AsyncInteractive::AsyncInteractive(asio::io_context& context, std::vector<std::string> argv,
                                   InteractiveOptions options)
    : AsyncInteractive(executor_type(context.get_executor()), std::move(argv), std::move(options)) {}

AsyncInteractive::~AsyncInteractive() {
  if (state_) state_->shutdown();
}

AsyncInteractive::AsyncInteractive(AsyncInteractive&& other) noexcept = default;

AsyncInteractive& AsyncInteractive::operator=(AsyncInteractive&& other) noexcept {
  if (this != &other) {
    if (state_) state_->shutdown();
    state_ = std::move(other.state_);
  }
  return *this;
}

const detail::AsyncInteractiveStatePtr& AsyncInteractive::state(const char* where) const {
  if (!state_)
    throw std::logic_error(std::string("bounded_subprocess::AsyncInteractive::") + where +
                           ": the object was moved from");
  return state_;
}

AsyncInteractive::executor_type AsyncInteractive::get_executor() const {
  return state("get_executor")->executor;
}

pid_t AsyncInteractive::pid() const noexcept { return state_ ? state_->core->pid() : -1; }

bool AsyncInteractive::is_running() const noexcept {
  return state_ && !state_->core->child_exited();
}

std::optional<int> AsyncInteractive::exit_code() const noexcept {
  return state_ ? state_->core->exit_code() : std::nullopt;
}

}  // namespace bounded_subprocess
