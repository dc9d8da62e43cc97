#include "base/sys.hpp"

#include <sys/wait.h>

namespace bounded_subprocess::detail::sys {

const Calls real{
    .read = ::read,
    .write = ::write,
    .splice = ::splice,
    .ppoll = ::ppoll,
    .wait4 = ::wait4,
};

Calls calls = real;

}  // namespace bounded_subprocess::detail::sys
