// Umbrella header for the synchronous faces. The async faces (which need
// Asio) have their own header: bounded_subprocess/async.hpp.
#pragma once

#include "bounded_subprocess/options.hpp"
#include "bounded_subprocess/result.hpp"
#include "bounded_subprocess/run.hpp"
