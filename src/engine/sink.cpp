#include "engine/sink.hpp"

namespace bounded_subprocess::detail {

void Sink::append(std::string_view bytes) {
  if (auto* c = std::get_if<CaptureBuffer>(&sink_)) {
    c->append(bytes);
    return;
  }
  Lines& l = std::get<Lines>(sink_);
  l.total += bytes.size();
  l.splitter.append(bytes);
}

void Sink::count_discarded(std::uint64_t n) noexcept {
  if (auto* c = std::get_if<CaptureBuffer>(&sink_)) c->count_discarded(n);
}

bool Sink::discarding() const noexcept {
  const auto* c = std::get_if<CaptureBuffer>(&sink_);
  return c != nullptr && c->full();
}

bool Sink::paused() const noexcept {
  const auto* l = std::get_if<Lines>(&sink_);
  return l != nullptr && l->splitter.queued_bytes() >= l->queue_cap;
}

void Sink::end() {
  if (auto* l = std::get_if<Lines>(&sink_)) l->splitter.end(FinalLine::keep);
}

Capture Sink::take() {
  if (auto* c = std::get_if<CaptureBuffer>(&sink_)) return c->take();
  const Lines& l = std::get<Lines>(sink_);
  Capture c;
  c.total_bytes = l.total;
  c.truncated = l.splitter.truncated();
  return c;
}

LineSplitter* Sink::lines() noexcept {
  auto* l = std::get_if<Lines>(&sink_);
  return l != nullptr ? &l->splitter : nullptr;
}

}  // namespace bounded_subprocess::detail
