package io.checkpointd.linux.ptrace;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.linux.SyscallException;
import java.util.List;

/**
 * Reads what CRIU's {@code core-<tid>.img} holds of a thread in ptrace-stop: general registers (adjusted for syscall
 * restart as CRIU does), the XSAVE area, the blocked mask, and the queued {@code siginfo_t}s. The native buffers
 * belong to the calling (tracer) thread and are reused across epochs. Shared by StoppedProcess (a test helper; seized for
 * one epoch) and {@link Tracer} (seized for as long as the process is protected).
 */
final class ThreadReader {
    /** Offset of the XSAVE header ({@code xstate_bv}); bytes of the FXSAVE area CRIU saves (before sw_reserved). */
    private static final int XSAVE_HEADER = 512, FXSAVE_SAVED = 464;
    static final int XSTATE_MAX = 16384; // XSAVE area incl. AVX-512 (2,696) and AMX tiles (~11 KiB)
    private static final int SIGINFO_SIZE = 128, SIGINFO_BATCH = 32;
    private static final ThreadLocal<ThreadReader> LOCAL = ThreadLocal.withInitial(ThreadReader::new);

    private final Memory regs = new Memory(UserRegs.SIZE);
    private final Memory xstate = new Memory(XSTATE_MAX);
    private final Memory iov = new Memory(16);
    private final Memory sigmask = new Memory(8);
    private final Memory fpregs = new Memory(512);
    private final Memory peekArgs = new Memory(16);
    private final Memory siginfo = new Memory((long) SIGINFO_SIZE * SIGINFO_BATCH);

    private ThreadReader() {
    }

    /** The calling thread's reader (ptrace requests must come from the tracing thread anyway). */
    static ThreadReader local() {
        return LOCAL.get();
    }

    /** {@code PTRACE_GETREGS}, {@code PTRACE_GETREGSET NT_X86_XSTATE} and {@code PTRACE_GETSIGMASK} of stopped {@code tid}. */
    ThreadState read(int tid) throws SyscallException {
        long regsAddr = Pointer.nativeValue(regs);
        long xAddr = Pointer.nativeValue(xstate);
        check(PtraceDirect.ptrace(PtraceLib.PTRACE_GETREGS, tid, 0L, regsAddr), "ptrace(PTRACE_GETREGS)", tid);
        iov.setLong(0, xAddr);
        iov.setLong(8, XSTATE_MAX);
        check(PtraceDirect.ptrace(PtraceLib.PTRACE_GETREGSET, tid, PtraceLib.NT_X86_XSTATE, Pointer.nativeValue(iov)),
                "ptrace(PTRACE_GETREGSET, NT_X86_XSTATE)", tid);
        int xlen = (int) iov.getLong(8);
        byte[] x = xstate.getByteArray(0, xlen);
        if (xlen >= XSAVE_HEADER + 8 && (xstate.getLong(XSAVE_HEADER) & 3) != 3) {
            // compel's get_task_xsave(): x87/SSE in their init state are not filled in by the regset, so CRIU
            // takes the legacy area from PTRACE_GETFPREGS; bytes 464.. keep the regset's XCR0 word, which
            // tells the image codec the layout (CRIU saves neither)
            check(PtraceDirect.ptrace(PtraceLib.PTRACE_GETFPREGS, tid, 0L, Pointer.nativeValue(fpregs)),
                    "ptrace(PTRACE_GETFPREGS)", tid);
            fpregs.read(0, x, 0, FXSAVE_SAVED);
        }
        check(PtraceDirect.ptrace(PtraceLib.PTRACE_GETSIGMASK, tid, 8L, Pointer.nativeValue(sigmask)),
                "ptrace(PTRACE_GETSIGMASK)", tid);
        long[] r = regs.getLongArray(0, UserRegs.COUNT);
        ThreadState.adjustForRestart(r);
        return new ThreadState(tid, r, x, sigmask.getLong(0));
    }

    /**
     * {@code PTRACE_PEEKSIGINFO} of stopped {@code tid} in batches until the queue is exhausted; appends the raw
     * 128-byte {@code siginfo_t}s to {@code out} (may be null) and returns the count.
     *
     * @param shared the process-wide queue ({@code PTRACE_PEEKSIGINFO_SHARED}) rather than the thread's own
     */
    int peek(int tid, boolean shared, List<byte[]> out) throws SyscallException {
        int total = 0;
        long argsAddr = Pointer.nativeValue(peekArgs);
        long infoAddr = Pointer.nativeValue(siginfo);
        while (true) {
            peekArgs.setLong(0, total);                                           // __u64 off
            peekArgs.setInt(8, shared ? PtraceLib.PTRACE_PEEKSIGINFO_SHARED : 0); // __u32 flags
            peekArgs.setInt(12, SIGINFO_BATCH);                                   // __s32 nr
            long r = PtraceDirect.ptrace(PtraceLib.PTRACE_PEEKSIGINFO, tid, argsAddr, infoAddr);
            check(r, "ptrace(PTRACE_PEEKSIGINFO)", tid);
            if (out != null) {
                for (int k = 0; k < r; k++) out.add(siginfo.getByteArray((long) k * SIGINFO_SIZE, SIGINFO_SIZE));
            }
            total += (int) r;
            if (r < SIGINFO_BATCH) return total;
        }
    }

    /** The raw 128-byte {@code siginfo_t}s queued for stopped {@code tid}, or (shared) for its process, in queue order. */
    List<byte[]> siginfo(int tid, boolean shared) throws SyscallException {
        List<byte[]> out = new java.util.ArrayList<>();
        peek(tid, shared, out);
        return out;
    }

    private static void check(long r, String call, int t) throws SyscallException {
        if (r < 0) throw new SyscallException(call, Native.getLastError(), "tid " + t);
    }
}
