// Force-included (-include) into every source of the sync entry points
// (src/CMakeLists.txt): the sync entry points drive the engine with ppoll and need
// no Asio, and this keeps it so. Any Asio header, or any use of the `asio`
// namespace, in those sources (or in what they include) fails to compile.
#pragma once

#pragma GCC poison asio
