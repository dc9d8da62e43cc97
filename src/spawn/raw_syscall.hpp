// System calls without libc, for the code that runs between clone() and
// execve() and for the init (launch.cpp). That code shares the host's memory
// and thread pointer, so it must not touch errno or anything else that libc
// keeps per thread: these return the kernel's result, -errno on failure.
//
// x86_64 and aarch64 only; CMake refuses other architectures.
#pragma once

namespace bounded_subprocess::detail::raw {

#if defined(__x86_64__)

inline long syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6) noexcept {
  long ret;
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

#elif defined(__aarch64__)

inline long syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6) noexcept {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a1;
  register long x1 __asm__("x1") = a2;
  register long x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4;
  register long x4 __asm__("x4") = a5;
  register long x5 __asm__("x5") = a6;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}

#else
#error "bounded_subprocess supports x86_64 and aarch64"
#endif

template <class A = long, class B = long, class C = long, class D = long, class E = long, class F = long>
inline long call(long n, A a1 = 0, B a2 = 0, C a3 = 0, D a4 = 0, E a5 = 0, F a6 = 0) noexcept {
  return syscall6(n, (long)a1, (long)a2, (long)a3, (long)a4, (long)a5, (long)a6);  // NOLINT: register-sized
}

// A record of getdents64.
struct Dirent64 {
  unsigned long long ino;
  long long off;
  unsigned short reclen;
  unsigned char type;
  char name[1];
};

// Writes the decimal digits of `value` (>= 0) at `out`; returns the end.
inline char* put_decimal(char* out, unsigned long value) noexcept {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) *out++ = digits[--n];
  return out;
}

}  // namespace bounded_subprocess::detail::raw

extern "C" {
/// clone(2) onto a new stack: the child runs `fn(arg)` there and exits with
/// its result (exit_group). Returns the child's pid in the parent, or
/// -errno. `parent_tid` receives the pidfd when `flags` has CLONE_PIDFD.
/// Defined in clone.S.
__attribute__((visibility("hidden"))) long bs_clone(unsigned long flags, void* stack_top, int* parent_tid,
                                                    int (*fn)(void*), void* arg);
/// clone3(2) (a struct clone_args) with the child running `fn(arg)` on the
/// args' stack. Returns the child's pid, or -errno (-ENOSYS where clone3 is
/// unavailable, e.g. hidden by a seccomp filter). Defined in clone.S.
__attribute__((visibility("hidden"))) long bs_clone3(void* args, unsigned long size, int (*fn)(void*),
                                                     void* arg);
}
