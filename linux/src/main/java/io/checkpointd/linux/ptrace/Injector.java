package io.checkpointd.linux.ptrace;

import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs system calls inside one stopped thread of an unmodified target: seize + interrupt the thread, save all
 * registers, point {@code rip} at a {@code syscall} instruction (bytes {@code 0f 05}) found in the target's
 * {@code [vdso]}, load the syscall number and arguments, single-step it, read {@code rax}, and restore the saved
 * registers.
 *
 * <p>Syscall restart: if the thread was stopped inside a blocking syscall, the saved registers hold
 * {@code orig_rax} = that syscall and {@code rax} = {@code -ERESTART*}. The injected registers set
 * {@code orig_rax = -1} so the kernel's restart logic does not rewind the injected {@code rip}; restoring the
 * saved registers before detaching lets the kernel restart the interrupted call as if nothing happened.
 *
 * <p>Signals that arrive while the thread is held are recorded and delivered again on {@link #close()}.
 * Not handled: a target already in group-stop (SIGSTOP) is resumed for the single step, then stopped state is
 * whatever the kernel leaves after detach.
 *
 * <p>Like all ptrace use, every call must come from the thread that created the injector. Do not inject into a
 * {@code ProcessBuilder} child of this JVM: the JDK's reaper thread may consume its ptrace stops (see
 * {@link Ptrace#waitStop(int, Duration)}).
 */
public final class Injector implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Injector.class);
    private static final int MAX_STEPS = 16;
    /** A stop after PTRACE_INTERRUPT or one instruction comes in microseconds; far longer means it was lost. */
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);

    private final int pid;
    private final int tid;
    private final long syscallInsn;
    private final UserRegs saved;
    private int pendingSignal;
    private boolean closed;

    private Injector(int pid, int tid, long syscallInsn, UserRegs saved, int pendingSignal) {
        this.pid = pid;
        this.tid = tid;
        this.syscallInsn = syscallInsn;
        this.saved = saved;
        this.pendingSignal = pendingSignal;
    }

    /** Attaches to the main thread ({@code tid == pid}). */
    public static Injector attach(int pid) throws IOException {
        return attach(pid, pid);
    }

    /** Seizes and interrupts thread {@code tid} of process {@code pid} and saves its registers. */
    public static Injector attach(int pid, int tid) throws IOException {
        long insn = findSyscallInsn(pid);
        Ptrace.seize(tid, 0);
        boolean ok = false;
        try {
            Ptrace.interrupt(tid);
            WaitStatus st = Ptrace.waitStop(tid, STOP_TIMEOUT);
            if (!st.stopped()) throw new IOException("tid " + tid + " did not stop: " + st);
            // A plain signal-delivery-stop (event 0, not our trap) may come first: keep its signal for later.
            int pending = st.ptraceEvent() == 0 && st.stopSig() != Syscalls.SIGTRAP ? st.stopSig() : 0;
            UserRegs regs = Ptrace.getRegs(tid);
            ok = true;
            return new Injector(pid, tid, insn, regs, pending);
        } finally {
            if (!ok) detachQuietly(tid);
        }
    }

    /** Address of a {@code syscall} instruction in the target's {@code [vdso]}. */
    static long findSyscallInsn(int pid) throws IOException {
        Vma vdso = ProcFs.findVma(pid, "[vdso]").orElseThrow(() -> new IOException("pid " + pid + " has no [vdso] mapping"));
        byte[] text = new byte[(int) vdso.length()];
        try (RandomAccessFile mem = new RandomAccessFile(ProcFs.dir(pid).resolve("mem").toFile(), "r")) {
            mem.seek(vdso.start());
            mem.readFully(text);
        }
        for (int i = 0; i + 1 < text.length; i++) {
            if (text[i] == 0x0f && text[i + 1] == 0x05) return vdso.start() + i;
        }
        throw new IOException("no syscall instruction in [vdso] of pid " + pid);
    }

    /**
     * Runs syscall {@code nr} with up to six arguments (rdi, rsi, rdx, r10, r8, r9) in the target thread and
     * returns its raw result: {@code -errno} on failure, as the kernel returns it.
     */
    public long syscall(long nr, long... args) throws IOException {
        if (closed) throw new IllegalStateException("injector closed");
        if (args.length > 6) throw new IllegalArgumentException("at most 6 syscall arguments");
        int[] argRegs = {UserRegs.RDI, UserRegs.RSI, UserRegs.RDX, UserRegs.R10, UserRegs.R8, UserRegs.R9};
        UserRegs r = saved.copy();
        r.set(UserRegs.RIP, syscallInsn).set(UserRegs.RAX, nr).set(UserRegs.ORIG_RAX, -1);
        for (int i = 0; i < args.length; i++) r.set(argRegs[i], args[i]);
        try {
            for (int step = 0; step < MAX_STEPS; step++) {
                Ptrace.setRegs(tid, r);
                Ptrace.singleStep(tid, 0);
                WaitStatus st = Ptrace.waitStop(tid, STOP_TIMEOUT);
                if (!st.stopped()) throw new IOException("tid " + tid + " left ptrace during injection: " + st);
                UserRegs after = Ptrace.getRegs(tid);
                if (after.rip() == syscallInsn + 2) return after.rax();
                // Stopped before the instruction ran (another signal, or a queued interrupt): remember, retry.
                if (st.ptraceEvent() == 0 && st.stopSig() != Syscalls.SIGTRAP) pendingSignal = st.stopSig();
                LOG.debug("injection into tid {} stopped early ({}), retrying", tid, st);
            }
            throw new IOException("syscall " + nr + " could not be injected into tid " + tid + " in " + MAX_STEPS + " steps");
        } finally {
            Ptrace.setRegs(tid, saved);
        }
    }

    /**
     * {@link #syscall} that throws {@link SyscallException} for a {@code -errno} result.
     *
     * @param name the syscall's name for the exception, e.g. {@code "userfaultfd"}
     */
    public long checkedSyscall(String name, long nr, long... args) throws IOException {
        long r = syscall(nr, args);
        if (r < 0 && r >= -Syscalls.MAX_ERRNO) {
            throw new SyscallException(name, (int) -r, "injected into pid " + pid + " tid " + tid);
        }
        return r;
    }

    public int pid() {
        return pid;
    }

    public int tid() {
        return tid;
    }

    /** The registers the thread had when it was stopped. */
    public UserRegs savedRegs() {
        return saved.copy();
    }

    /** Restores the saved registers and detaches, re-delivering a signal that arrived meanwhile. */
    @Override
    public void close() throws SyscallException {
        if (closed) return;
        closed = true;
        try {
            Ptrace.setRegs(tid, saved);
        } finally {
            Ptrace.detach(tid, pendingSignal);
        }
    }

    private static void detachQuietly(int tid) {
        try {
            Ptrace.detach(tid, 0);
        } catch (SyscallException e) {
            LOG.debug("detach of tid {} after failed attach: {}", tid, e.getMessage());
        }
    }
}
