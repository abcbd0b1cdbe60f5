package io.checkpointd.linux.ptrace;

/**
 * One thread's CPU and signal state at a checkpoint, as the tracer read it.
 *
 * @param tid     the thread
 * @param gpregs  the 27 general registers in {@link UserRegs} order, already adjusted for system-call restart
 *                exactly as CRIU's {@code compel_get_task_regs} does ({@link #adjustForRestart}), so a restored
 *                thread re-enters an interrupted {@code read}/{@code futex}/... instead of seeing {@code -ERESTART*}
 * @param xstate  the {@code PTRACE_GETREGSET NT_X86_XSTATE} bytes (the XSAVE area: x87/SSE/AVX/AVX-512 state),
 *                trimmed to the length the kernel returned
 * @param sigmask the blocked-signal mask ({@code PTRACE_GETSIGMASK}): bit {@code n-1} is signal {@code n}
 * @param attributes what else of the thread's core can be read from outside, or null where not read
 * @param born    whether the thread started after the tracer's last {@link Tracer#markBase() base mark} (a thread of
 *                the last CRIU dump has the same tid and was there at the mark; a recycled tid is born)
 */
public record ThreadState(int tid, long[] gpregs, byte[] xstate, long sigmask, ThreadAttributes attributes, boolean born) {
    /** The registers and signal mask alone (no attributes read, not born). */
    public ThreadState(int tid, long[] gpregs, byte[] xstate, long sigmask) {
        this(tid, gpregs, xstate, sigmask, null, false);
    }

    /** This state with the thread's attributes and birth. */
    public ThreadState with(ThreadAttributes a, boolean isBorn) {
        return new ThreadState(tid, gpregs, xstate, sigmask, a, isBorn);
    }

    /** Whether {@code o} has the same registers, FPU state and mask: a thread that did not run in between. */
    public boolean sameCpuState(ThreadState o) {
        return o != null && sigmask == o.sigmask && java.util.Arrays.equals(gpregs, o.gpregs) && java.util.Arrays.equals(xstate, o.xstate);
    }

    /** Kernel-internal restart codes ({@code <linux/errno.h>}) a thread stopped inside a syscall can hold in rax. */
    static final long ERESTARTSYS = 512, ERESTARTNOINTR = 513, ERESTARTNOHAND = 514, ERESTART_RESTARTBLOCK = 516;
    private static final long EINTR = 4;

    public long rip() {
        return gpregs[UserRegs.RIP];
    }

    public long rsp() {
        return gpregs[UserRegs.RSP];
    }

    /**
     * CRIU's restart rule ({@code compel/arch/x86/src/lib/infect.c}, {@code compel_get_task_regs}): if the thread
     * came from a system call ({@code orig_rax >= 0}) and rax holds {@code -ERESTARTNOHAND}, {@code -ERESTARTSYS} or
     * {@code -ERESTARTNOINTR}, set rax back to the syscall number and rip back over the 2-byte {@code syscall}
     * instruction; for {@code -ERESTART_RESTARTBLOCK} the call is reported as interrupted ({@code rax = -EINTR}).
     * Modifies {@code r} in place.
     */
    public static void adjustForRestart(long[] r) {
        if (r[UserRegs.ORIG_RAX] < 0) return;
        long ax = r[UserRegs.RAX];
        if (ax == -ERESTARTNOHAND || ax == -ERESTARTSYS || ax == -ERESTARTNOINTR) {
            r[UserRegs.RAX] = r[UserRegs.ORIG_RAX];
            r[UserRegs.RIP] -= 2;
        } else if (ax == -ERESTART_RESTARTBLOCK) {
            r[UserRegs.RAX] = -EINTR;
        }
    }

    @Override
    public String toString() {
        return String.format("ThreadState[tid=%d rip=%x rsp=%x xstate=%d bytes sigmask=%x%s]", tid, rip(), rsp(), xstate.length, sigmask,
                born ? " born" : "");
    }
}
