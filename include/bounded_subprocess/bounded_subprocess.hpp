// Umbrella header: every entry point of the library.
//
// The sync entry points (run, run_stream_lines, Interactive) need only the
// standard library. The async entry points (async_run, open_line_stream,
// AsyncInteractive) need standalone Asio (Debian: libasio-dev); they
// are included too unless BOUNDED_SUBPROCESS_NO_ASYNC is defined before this
// header, for a program that uses only the sync entry points and builds where Asio
// is not installed. The CMake package defines it for its consumers when they
// asked only for its `sync` component and Asio was not found (see docs/cpp-api.md).
#pragma once

#include "bounded_subprocess/containment.hpp"
#include "bounded_subprocess/error.hpp"
#include "bounded_subprocess/interactive.hpp"
#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "bounded_subprocess/run.hpp"
#include "bounded_subprocess/spawn_error.hpp"
#include "bounded_subprocess/stream.hpp"

#ifndef BOUNDED_SUBPROCESS_NO_ASYNC
#include "bounded_subprocess/async.hpp"
#include "bounded_subprocess/async_interactive.hpp"
#endif
