// Force-included into the sync consumer: any Asio header fails its build.
#pragma once
#pragma GCC poison asio
