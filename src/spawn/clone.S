/* bs_clone(flags, stack_top, parent_tid, fn, arg): the legacy clone system
   call (clone3 is refused by some seccomp filters) with the child starting
   on `stack_top` and running fn(arg), then exit_group(result). Needed
   because a C function cannot survive its stack changing under it. */

#if defined(__x86_64__)
        .text
        .globl  bs_clone
        .hidden bs_clone
        .type   bs_clone, @function
bs_clone:
        /* rdi=flags rsi=stack_top rdx=parent_tid rcx=fn r8=arg */
        .cfi_startproc
        push    %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        mov     %rcx, %r9          /* fn: r9 survives the syscall */
        mov     %r8, %r12          /* arg: r12 too (callee-saved, restored below) */
        xor     %r10d, %r10d       /* child_tid */
        xor     %r8d, %r8d         /* tls */
        mov     $56, %eax          /* __NR_clone: (flags, newsp, parent_tid, child_tid, tls) */
        syscall
        test    %rax, %rax
        jz      1f
        pop     %r12
        .cfi_adjust_cfa_offset -8
        .cfi_restore %r12
        ret
1:      /* the child, on its own stack */
        .cfi_undefined %rip
        xor     %ebp, %ebp
        and     $-16, %rsp
        mov     %r12, %rdi
        call    *%r9
        mov     %eax, %edi
        mov     $231, %eax         /* __NR_exit_group */
        syscall
        hlt
        .cfi_endproc
        .size   bs_clone, .-bs_clone

#elif defined(__aarch64__)
        .text
        .globl  bs_clone
        .hidden bs_clone
        .type   bs_clone, %function
bs_clone:
        /* x0=flags x1=stack_top x2=parent_tid x3=fn x4=arg */
        mov     x10, x3            /* fn */
        mov     x11, x4            /* arg */
        mov     x3, xzr            /* tls */
        mov     x4, xzr            /* child_tid */
        mov     x8, #220           /* __NR_clone: (flags, newsp, parent_tid, tls, child_tid) */
        svc     #0
        cbz     x0, 1f
        ret
1:      mov     x29, xzr
        mov     x30, xzr
        mov     x0, x11
        blr     x10
        mov     x8, #94            /* __NR_exit_group */
        svc     #0
        brk     #0
        .size   bs_clone, .-bs_clone
#else
#error "bounded_subprocess supports x86_64 and aarch64"
#endif

        .section .note.GNU-stack,"",%progbits
