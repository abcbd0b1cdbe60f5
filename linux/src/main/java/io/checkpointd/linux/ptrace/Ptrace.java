package io.checkpointd.linux.ptrace;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.proc.ProcFs;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Checked {@code ptrace(2)} requests on one thread ({@code tid}). Uses {@code PTRACE_SEIZE} rather than
 * {@code PTRACE_ATTACH}: no SIGSTOP is sent, so the target's own job control is not disturbed, and
 * {@code PTRACE_INTERRUPT} stops it on demand.
 *
 * <p>ptrace is per thread and tied to the tracing thread: the Java thread that seizes must make every later
 * request for that tid, including {@link #waitStop} and {@link #detach}.
 */
public final class Ptrace {
    /** {@code PTRACE_EVENT_STOP}: the event of a stop caused by {@code PTRACE_INTERRUPT} or group-stop under seize. */
    public static final int PTRACE_EVENT_STOP = 128;
    /** {@code PTRACE_O_TRACESYSGOOD} */
    public static final long PTRACE_O_TRACESYSGOOD = 1;
    /** {@code sizeof(struct user_fpregs_struct)} on x86_64 (the FXSAVE area). */
    public static final int FPREGS_SIZE = 512;

    private Ptrace() {
    }

    /** {@code PTRACE_SEIZE}: become the tracer of {@code tid} without stopping it. */
    public static void seize(int tid, long options) throws SyscallException {
        check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_SEIZE, tid, 0L, options), "ptrace(PTRACE_SEIZE)", tid);
    }

    /** {@code PTRACE_INTERRUPT}: ask a seized thread to stop; then {@link #waitStop}. */
    public static void interrupt(int tid) throws SyscallException {
        check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_INTERRUPT, tid, 0L, 0L), "ptrace(PTRACE_INTERRUPT)", tid);
    }

    /** {@code waitpid(tid, __WALL)}: waits for the next state change of a traced thread (threads need {@code __WALL}). */
    public static WaitStatus waitStop(int tid) throws SyscallException {
        return Syscalls.waitpid(tid, Syscalls.__WALL);
    }

    /**
     * Like {@link #waitStop(int)} but gives up after {@code timeout}: polls {@code waitpid(WNOHANG)} so a lost
     * notification cannot hang the caller. One way to lose it: the target is a child this JVM started with
     * {@code ProcessBuilder}; the JDK's process-reaper thread then waits for it too and, being in the tracer's
     * thread group, can consume the ptrace stop. Trace processes that are not this JVM's own children.
     */
    public static WaitStatus waitStop(int tid, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        long pause = 20_000; // 20 us, doubling to 1 ms: a stop after INTERRUPT or a single step takes microseconds
        while (true) {
            WaitStatus st = Syscalls.waitpid(tid, Syscalls.__WALL | Syscalls.WNOHANG);
            if (st.pid() != 0) return st;
            if (System.nanoTime() - deadline > 0) {
                String state = ProcFs.statusField(tid, "State").orElse("?");
                throw new IOException("tid " + tid + ": no ptrace stop reported within " + timeout.toMillis() + " ms (State "
                        + state + (state.startsWith("t") ? "; stopped, so another thread of this JVM took the notification:"
                        + " is the target a ProcessBuilder child of this JVM?" : "") + ")");
            }
            LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, 1_000_000);
        }
    }

    /** {@code PTRACE_GETREGS}. */
    public static UserRegs getRegs(int tid) throws SyscallException {
        try (Memory m = new Memory(UserRegs.SIZE)) {
            check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_GETREGS, tid, Pointer.NULL, m), "ptrace(PTRACE_GETREGS)", tid);
            return new UserRegs(m.getLongArray(0, UserRegs.COUNT));
        }
    }

    /** {@code PTRACE_SETREGS}. */
    public static void setRegs(int tid, UserRegs regs) throws SyscallException {
        try (Memory m = new Memory(UserRegs.SIZE)) {
            m.write(0, regs.toArray(), 0, UserRegs.COUNT);
            check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_SETREGS, tid, Pointer.NULL, m), "ptrace(PTRACE_SETREGS)", tid);
        }
    }

    /** {@code PTRACE_GETFPREGS}: the 512-byte {@code user_fpregs_struct} (FXSAVE layout: mxcsr at offset 24). */
    public static byte[] getFpRegs(int tid) throws SyscallException {
        try (Memory m = new Memory(FPREGS_SIZE)) {
            check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_GETFPREGS, tid, Pointer.NULL, m), "ptrace(PTRACE_GETFPREGS)", tid);
            return m.getByteArray(0, FPREGS_SIZE);
        }
    }

    /** {@code PTRACE_SETFPREGS}. */
    public static void setFpRegs(int tid, byte[] fpregs) throws SyscallException {
        if (fpregs.length != FPREGS_SIZE) throw new IllegalArgumentException("need " + FPREGS_SIZE + " bytes");
        try (Memory m = new Memory(FPREGS_SIZE)) {
            m.write(0, fpregs, 0, FPREGS_SIZE);
            check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_SETFPREGS, tid, Pointer.NULL, m), "ptrace(PTRACE_SETFPREGS)", tid);
        }
    }

    /**
     * {@code PTRACE_GETREGS}, {@code PTRACE_GETREGSET NT_X86_XSTATE} and {@code PTRACE_GETSIGMASK} of stopped
     * {@code tid}, as the capture engine reads them (into the calling thread's reused native buffers).
     */
    public static ThreadState readState(int tid) throws SyscallException {
        return ThreadReader.local().read(tid);
    }

    /**
     * {@code PTRACE_PEEKSIGINFO} of stopped {@code tid} until its queue (or, {@code shared}, the process-wide queue)
     * is exhausted; returns how many {@code siginfo_t}s are queued.
     */
    public static int peekSiginfo(int tid, boolean shared) throws SyscallException {
        return ThreadReader.local().peek(tid, shared, null);
    }

    /** {@code PTRACE_SINGLESTEP}, delivering {@code sig} (0 for none). */
    public static void singleStep(int tid, int sig) throws SyscallException {
        check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_SINGLESTEP, tid, 0L, sig), "ptrace(PTRACE_SINGLESTEP)", tid);
    }

    /** {@code PTRACE_CONT}, delivering {@code sig} (0 for none). */
    public static void cont(int tid, int sig) throws SyscallException {
        check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_CONT, tid, 0L, sig), "ptrace(PTRACE_CONT)", tid);
    }

    /** {@code PTRACE_DETACH}, delivering {@code sig} (0 for none). The thread must be in a ptrace-stop. */
    public static void detach(int tid, int sig) throws SyscallException {
        check(PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_DETACH, tid, 0L, sig), "ptrace(PTRACE_DETACH)", tid);
    }

    private static void check(long r, String call, int tid) throws SyscallException {
        if (r < 0) throw new SyscallException(call, Native.getLastError(), "tid " + tid);
    }
}
