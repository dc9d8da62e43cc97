// Shared by the modes of the bs_misbehave helper program (misbehave.cpp,
// misbehave_handshake.cpp): output of PATTERN, argument parsing, forking.
// Plain C++/POSIX, no dependency on the library.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string_view>

namespace bs_misbehave {

/// Byte i of PATTERN: '\n' when i % 64 == 63, else 'a' + i % 26.
char pattern_byte(unsigned long long i);
/// Writes all of `data`; exits quietly (status 4) when the reader has gone.
void write_all(int fd, const char* data, std::size_t size);
void write_str(int fd, std::string_view s);
/// Writes `count` bytes of PATTERN to fd (forever when count is ~0ULL).
void flood(int fd, unsigned long long count);
/// Reads stdin to its end; the number of bytes read.
unsigned long long count_stdin();
[[noreturn]] void sleep_forever();
void sleep_ms(unsigned long long ms);
/// Prints "bs_misbehave: WHAT" and exits 2.
[[noreturn]] void usage(const char* what);
/// A decimal count; a usage error when missing or malformed.
unsigned long long parse_count(const char* s);
/// fork(), exiting (status 6) when it fails.
pid_t fork_or_die();

/// The modes of misbehave_handshake.cpp (see the list at the top of
/// misbehave.cpp); -1 for a mode it does not know.
int run_handshake_mode(std::string_view mode, int argc, char** argv);

}  // namespace bs_misbehave
