package io.checkpointd.linux.ptrace;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.ProcFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
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
    private final Memory robust = new Memory(16);
    private final Memory param = new Memory(8);
    private final Memory rseqConf = new Memory(RSEQ_CONF_SIZE);
    private final Memory userDesc = new Memory(16);
    /**
     * Whether this kernel's XSAVE regset holds the init values of x87/SSE state in their init state (5.14+ do),
     * so the legacy area needs no {@code PTRACE_GETFPREGS}: {@link #LEGACY_CHECKS} reads that found both equal make
     * it true, one that did not makes it false for good. One syscall less per thread and pause.
     */
    private static volatile int legacyAgreements;
    private static volatile boolean legacyDiffers;
    static final int LEGACY_CHECKS = 64;
    /** False once the kernel said it has no {@code PTRACE_GET_RSEQ_CONFIGURATION} (EIO). */
    private boolean rseqConfig = true;

    // <asm/unistd_64.h>, <sched.h>, <sys/resource.h>, <asm/ldt.h>
    private static final long SYS_GETPRIORITY = 140, SYS_SCHED_GETPARAM = 143, SYS_SCHED_GETSCHEDULER = 145,
            SYS_GET_ROBUST_LIST = 274;
    private static final int SCHED_FIFO = 1, SCHED_RR = 2, SCHED_RESET_ON_FORK = 0x40000000, PRIO_PROCESS = 0;
    private static final int GDT_ENTRY_TLS_MIN = 12, GDT_ENTRY_TLS_NUM = 3;
    /** {@code struct ptrace_rseq_configuration}: u64 rseq_abi_pointer, u32 rseq_abi_size, signature, flags, pad. */
    private static final int RSEQ_CONF_SIZE = 24;
    /** {@code struct rseq}: the rseq_cs pointer and the flags word. */
    private static final int RSEQ_CS_OFFSET = 8, RSEQ_FLAGS_OFFSET = 16;
    /** {@code struct rseq_cs}: u32 version, u32 flags. */
    private static final int RSEQ_CS_FLAGS_OFFSET = 4;

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
        if (xlen >= XSAVE_HEADER + 8 && (xstate.getLong(XSAVE_HEADER) & 3) != 3 && !regsetFillsLegacy()) {
            // compel's get_task_xsave(): x87/SSE in their init state are not filled in by older kernels' regset,
            // so CRIU takes the legacy area from PTRACE_GETFPREGS; bytes 464.. keep the regset's XCR0 word, which
            // tells the image codec the layout (CRIU saves neither)
            check(PtraceDirect.ptrace(PtraceLib.PTRACE_GETFPREGS, tid, 0L, Pointer.nativeValue(fpregs)),
                    "ptrace(PTRACE_GETFPREGS)", tid);
            byte[] legacy = fpregs.getByteArray(0, FXSAVE_SAVED);
            if (Arrays.equals(legacy, 0, FXSAVE_SAVED, x, 0, FXSAVE_SAVED)) {
                legacyAgreements++; // the tracer thread alone writes it; a lost count costs one more check
            } else {
                legacyDiffers = true;
                System.arraycopy(legacy, 0, x, 0, FXSAVE_SAVED);
            }
        }
        check(PtraceDirect.ptrace(PtraceLib.PTRACE_GETSIGMASK, tid, 8L, Pointer.nativeValue(sigmask)),
                "ptrace(PTRACE_GETSIGMASK)", tid);
        long[] r = regs.getLongArray(0, UserRegs.COUNT);
        ThreadState.adjustForRestart(r);
        return new ThreadState(tid, r, x, sigmask.getLong(0));
    }

    /** True once {@link #LEGACY_CHECKS} reads found the regset's legacy area equal to PTRACE_GETFPREGS, none unequal. */
    static boolean regsetFillsLegacy() {
        return !legacyDiffers && legacyAgreements >= LEGACY_CHECKS;
    }

    /**
     * What CRIU's thread core holds besides registers that can be read from outside, of stopped {@code tid} of
     * {@code pid}: as CRIU's {@code dump_thread_core}, {@code dump_sched_info}, {@code dump_thread_rseq} and
     * compel's {@code __compel_arch_fetch_thread_area} read it.
     */
    ThreadAttributes attributes(int pid, int tid) throws IOException {
        byte[] c = ProcFiles.readSingle("/proc/" + pid + "/task/" + tid + "/comm");
        int n = c.length;
        while (n > 0 && (c[n - 1] == '\n' || c[n - 1] == 0)) n--;
        String comm = new String(c, 0, n, StandardCharsets.UTF_8);

        int policy = (int) sys("sched_getscheduler", SYS_SCHED_GETSCHEDULER, tid, 0, 0);
        int prio = -1;
        int base = policy & ~SCHED_RESET_ON_FORK;
        if (base == SCHED_FIFO || base == SCHED_RR) {
            sys("sched_getparam", SYS_SCHED_GETPARAM, tid, Pointer.nativeValue(param), 0);
            prio = param.getInt(0);
        }
        // the raw syscall returns 20 - nice (1..40), glibc's wrapper the nice value
        int nice = 20 - (int) sys("getpriority", SYS_GETPRIORITY, PRIO_PROCESS, tid, 0);

        long ra = Pointer.nativeValue(robust);
        sys("get_robust_list", SYS_GET_ROBUST_LIST, tid, ra, ra + 8);
        long head = robust.getLong(0);
        int len = (int) robust.getLong(8);

        return new ThreadAttributes(comm, policy, prio, nice, head, len, rseq(tid), tls(tid));
    }

    private ThreadAttributes.Rseq rseq(int tid) throws SyscallException {
        if (!rseqConfig) return null;
        long r = PtraceDirect.ptrace(PtraceLib.PTRACE_GET_RSEQ_CONFIGURATION, tid, RSEQ_CONF_SIZE, Pointer.nativeValue(rseqConf));
        if (r < 0) {
            int e = Native.getLastError();
            if (e == Errno.EIO) {
                rseqConfig = false; // kernel < 5.13: CRIU then writes no rseq entry either
                return null;
            }
            throw new SyscallException("ptrace(PTRACE_GET_RSEQ_CONFIGURATION)", e, "tid " + tid);
        }
        if (rseqConf.getInt(16) != 0) {
            throw new SyscallException("ptrace(PTRACE_GET_RSEQ_CONFIGURATION)", Errno.EINVAL, "tid " + tid + ": unknown flags " + rseqConf.getInt(16));
        }
        long abi = rseqConf.getLong(0);
        int size = rseqConf.getInt(8), sig = rseqConf.getInt(12);
        long cs = 0, start = 0, post = 0, abort = 0;
        int flags = 0, version = 0;
        if (abi != 0) {
            // read_rseq_cs(): the struct rseq's rseq_cs word and flags, and if set, the critical section
            cs = peek(tid, abi + RSEQ_CS_OFFSET);
            flags = (int) peek(tid, abi + RSEQ_FLAGS_OFFSET);
            if (cs != 0) {
                long w = peek(tid, cs);
                version = (int) w;
                flags |= (int) (w >>> (8 * RSEQ_CS_FLAGS_OFFSET));
                start = peek(tid, cs + 8);
                post = peek(tid, cs + 16);
                abort = peek(tid, cs + 24);
            }
        }
        return new ThreadAttributes.Rseq(abi, size, sig, cs, flags, version, start, post, abort);
    }

    private List<ThreadAttributes.TlsEntry> tls(int tid) throws SyscallException {
        List<ThreadAttributes.TlsEntry> out = new ArrayList<>(GDT_ENTRY_TLS_NUM);
        for (int i = 0; i < GDT_ENTRY_TLS_NUM; i++) {
            int entry = GDT_ENTRY_TLS_MIN + i;
            userDesc.clear(16);
            long r = PtraceDirect.ptrace(PtraceLib.PTRACE_GET_THREAD_AREA, tid, entry, Pointer.nativeValue(userDesc));
            if (r < 0) {
                int e = Native.getLastError();
                // no IA-32 emulation: compel stores the entries as not present, as initialised here
                if (e == Errno.EIO) {
                    out.add(new ThreadAttributes.TlsEntry(entry, 0, 0, 1 << 5));
                    continue;
                }
                throw new SyscallException("ptrace(PTRACE_GET_THREAD_AREA)", e, "tid " + tid + " entry " + entry);
            }
            out.add(new ThreadAttributes.TlsEntry(userDesc.getInt(0), userDesc.getInt(4), userDesc.getInt(8), userDesc.getInt(12)));
        }
        return out;
    }

    /** {@code PTRACE_PEEKDATA}: the word at {@code addr} of stopped {@code tid}. */
    private static long peek(int tid, long addr) throws SyscallException {
        Native.setLastError(0);
        long v = PtraceDirect.ptrace(PtraceLib.PTRACE_PEEKDATA, tid, addr, 0L);
        if (v == -1) {
            int e = Native.getLastError();
            if (e != 0) throw new SyscallException("ptrace(PTRACE_PEEKDATA)", e, String.format("tid %d at 0x%x", tid, addr));
        }
        return v;
    }

    private static long sys(String name, long nr, long a1, long a2, long a3) throws SyscallException {
        long r = PtraceDirect.syscall(nr, a1, a2, a3);
        if (r < 0) throw new SyscallException(name, Native.getLastError(), "tid " + a1);
        return r;
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
