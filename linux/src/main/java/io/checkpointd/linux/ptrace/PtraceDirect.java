package io.checkpointd.linux.ptrace;

import com.sun.jna.Native;

/**
 * {@code ptrace(2)} and {@code waitpid(2)} by JNA direct mapping, for the calls an epoch's stop makes per thread
 * (interrupt, wait, registers, continue): a fraction of the cost of {@link PtraceLib}'s interface mapping, with
 * {@code Native.getLastError()} still set on failure. Raw, like {@link PtraceLib}: callers check results.
 */
final class PtraceDirect {
    static {
        Native.register("c");
    }

    private PtraceDirect() {
    }

    /** {@code long ptrace(enum __ptrace_request request, pid_t pid, void *addr, void *data)}, addresses as integers. */
    static native long ptrace(long request, int pid, long addr, long data);

    /** {@code pid_t waitpid(pid_t pid, int *wstatus, int options)} */
    static native int waitpid(int pid, int[] wstatus, int options);

    /** {@code long syscall(long number, ...)} with three arguments, for the per-thread reads of a stop. */
    static native long syscall(long number, long a1, long a2, long a3);
}
