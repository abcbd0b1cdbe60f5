package io.checkpointd.linux.ptrace;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.proc.ProcFs;
import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads a {@link Tracer} keeps seized, and what each report of theirs ({@code waitpid}) does to them: signals
 * relayed, new threads traced, exits forgotten, group-stops listened to, and during a stop, the interrupted threads
 * counted into their ptrace-stop. Confined to the tracer thread.
 */
final class TracedThreads {
    private static final Logger LOG = LoggerFactory.getLogger(Tracer.class);
    private static final int WAIT_ANY = Syscalls.__WALL | Syscalls.__WNOTHREAD | Syscalls.WNOHANG;
    private static final int SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22;
    /** Polls for ptrace-stops spin (rather than sleep) until the pause between them reaches this. */
    private static final long SPIN_NANOS = 80_000, FIRST_PAUSE_NANOS = 10_000;

    private enum State { RUNNING, INTERRUPTING, STOPPED, LISTENING, DYING }

    /** One traced thread. */
    private static final class Traced {
        final int tid;
        State state = State.RUNNING;
        /** In a group-stop when stopped: resumed with PTRACE_LISTEN, not PTRACE_CONT. */
        boolean groupStop;
        /** Order of first sight: a recycled tid gets a new one, so "born after the base mark" is exact. */
        final long serial;
        /** Its last capture with attributes: reused while its registers stay the same (it did not run). */
        ThreadState last;

        Traced(int tid, long serial) {
            this.tid = tid;
            this.serial = serial;
        }
    }

    private final int pid;
    private final TracerCounters counters;
    private final TreeMap<Integer, Traced> threads = new TreeMap<>();
    /** Threads to detach when they report the stop asked for after a failed attach. */
    private final List<Integer> pendingDetach = new ArrayList<>();
    private final Memory eventMsg = new Memory(8);
    private final int[] waitStatus = new int[1];
    /** Between {@link #beginStop()} and the stop's end: new threads are held at their first instruction. */
    private boolean inStop;
    private long nextSerial = 1;
    /** Threads with a serial above this were born after the base mark; none before the first mark. */
    private long baseMark = Long.MAX_VALUE;
    /** Serials of the threads last detached while frozen, taken over when they are seized again. */
    private final java.util.Map<Integer, Long> detachedSerials = new java.util.HashMap<>();

    TracedThreads(int pid, TracerCounters counters) {
        this.pid = pid;
        this.counters = counters;
    }

    /** Starts tracing exactly {@code tids}, just seized and running. */
    void seized(List<Integer> tids) {
        threads.clear();
        // seized again after a detach under the freezer (a CRIU dump): no thread started or ended in between, so
        // each keeps its serial, and with it whether it was born after the base mark
        for (int t : tids) {
            Long s = detachedSerials.get(t);
            threads.put(t, new Traced(t, s != null ? s : nextSerial++));
        }
        detachedSerials.clear();
    }

    /** Every thread traced now is one of the base's; those first seen later are born. */
    void markBase() {
        baseMark = nextSerial - 1;
    }

    /** {@code st} of a stopped thread with its attributes (read again only if it ran since its last capture) and birth. */
    ThreadState withAttributes(ThreadState st, ThreadReader reader) throws IOException {
        Traced t = threads.get(st.tid());
        if (t == null) throw new IllegalStateException("tid " + st.tid() + " is not traced");
        ThreadAttributes a = st.sameCpuState(t.last) ? t.last.attributes() : reader.attributes(pid, st.tid());
        ThreadState out = st.with(a, t.serial > baseMark);
        t.last = out;
        // stopped inside an rseq critical section: the image resumes it at the abort handler, as CRIU's does (the
        // live thread gets there by itself: the kernel applies the abort when it returns to user space)
        long ip = out.rip();
        if (a.rseq() != null && a.rseq().restartIp(ip) != ip) {
            long[] r = out.gpregs().clone();
            r[UserRegs.RIP] = a.rseq().restartIp(ip);
            return new ThreadState(out.tid(), r, out.xstate(), out.sigmask(), a, out.born());
        }
        return out;
    }

    /**
     * Makes the stop cover every thread {@code /proc/PID/task} lists: a thread found there and not traced (one this
     * tracer has not heard of yet) is seized and interrupted, reports are handled, until the listing equals the
     * threads stopped or dying, re-read until stable.
     *
     * @throws IOException if that is not reached by {@code deadlineNanos}
     */
    void coverListed(long deadlineNanos, Duration timeout, long pollMaxNanos) throws IOException {
        for (int round = 0; ; round++) {
            relay(); // clone and exit reports first: a new thread is then known, an exited one forgotten
            List<Integer> listed = ProcFs.threads(pid);
            int adopted = 0;
            for (int tid : listed) {
                if (threads.containsKey(tid)) continue;
                long r = PtraceDirect.ptrace(PtraceLib.PTRACE_SEIZE, tid, 0L, PtraceLib.PTRACE_O_TRACECLONE | PtraceLib.PTRACE_O_TRACEEXEC);
                if (r < 0) {
                    int e = Native.getLastError();
                    // EPERM: traced already, by this tracer (its first report is still queued); ESRCH: gone
                    if (e == Errno.EPERM || e == Errno.ESRCH) continue;
                    throw new SyscallException("ptrace(PTRACE_SEIZE)", e, "pid " + pid + " tid " + tid);
                }
                Traced t = new Traced(tid, nextSerial++);
                threads.put(tid, t);
                if (PtraceDirect.ptrace(PtraceLib.PTRACE_INTERRUPT, tid, 0L, 0L) < 0) t.state = State.DYING;
                else t.state = State.INTERRUPTING;
                counters.adopted.incrementAndGet();
                adopted++;
            }
            awaitStops(deadlineNanos, timeout, pollMaxNanos);
            if (adopted == 0 && listed.equals(stoppedOrDyingTids())) return;
            if (System.nanoTime() - deadlineNanos > 0) {
                throw new IOException("pid " + pid + ": the thread set did not settle within " + timeout.toMillis() + " ms ("
                        + listed.size() + " listed, " + stoppedOrDyingTids().size() + " stopped, round " + round + ")");
            }
            if (adopted == 0) Thread.onSpinWait();
        }
    }

    int size() {
        return threads.size();
    }

    boolean isEmpty() {
        return threads.isEmpty();
    }

    boolean inStop() {
        return inStop;
    }

    boolean hasPendingDetach() {
        return !pendingDetach.isEmpty();
    }

    /** A running seized thread cannot be detached; a frozen one can't stop. Only used right after seizing, frozen. */
    void detachRunning(int t) {
        // PTRACE_DETACH needs a ptrace-stop; a frozen thread cannot enter one, but the kernel detaches a tracee
        // whose tracer exits. Right after a failed seize under the freezer, interrupt and detach on thaw instead.
        if (PtraceDirect.ptrace(PtraceLib.PTRACE_INTERRUPT, t, 0L, 0L) == 0) {
            pendingDetach.add(t);
        }
    }

    /** Marks the start of a stop: from here on, a thread that starts is held at its first instruction. */
    void beginStop() {
        inStop = true;
    }

    /** {@code PTRACE_INTERRUPT}s every traced thread; one already gone is marked dying. */
    void interruptAll() throws SyscallException {
        for (Traced t : threads.values()) {
            int e = interrupt(t);
            if (e != 0) throw new SyscallException("ptrace(PTRACE_INTERRUPT)", e, "tid " + t.tid);
        }
    }

    /**
     * {@code PTRACE_INTERRUPT} of {@code t}: INTERRUPTING, or DYING if it is gone (killed, or a zombie leader: its
     * exit, if any, comes as an event). Returns any other errno, 0 otherwise.
     */
    private int interrupt(Traced t) {
        if (PtraceDirect.ptrace(PtraceLib.PTRACE_INTERRUPT, t.tid, 0L, 0L) == 0) {
            t.state = State.INTERRUPTING;
            return 0;
        }
        int e = Native.getLastError();
        if (e == Errno.ESRCH) {
            t.state = State.DYING;
            return 0;
        }
        return e;
    }

    /**
     * Handles reports until every interrupted thread is in its ptrace-stop, polling with pauses that double up to
     * {@code pollMaxNanos}: the stop is over only when this thread sees the last one.
     *
     * @throws IOException if some are not stopped by {@code deadlineNanos} ({@code timeout} is for the message)
     */
    void awaitStops(long deadlineNanos, Duration timeout, long pollMaxNanos) throws IOException {
        long pause = FIRST_PAUSE_NANOS;
        while (interrupting() > 0) {
            WaitStatus st = waitAny();
            if (st.pid() > 0) {
                handle(st);
                pause = FIRST_PAUSE_NANOS;
                continue;
            }
            if (System.nanoTime() - deadlineNanos > 0) {
                throw new IOException("pid " + pid + ": " + interrupting() + " of " + threads.size()
                        + " threads not in ptrace-stop within " + timeout.toMillis() + " ms (" + describeInterrupting() + ")");
            }
            if (pause < SPIN_NANOS) Thread.onSpinWait();
            else LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, pollMaxNanos);
        }
    }

    /** The threads in their ptrace-stop, by tid. */
    List<Integer> stoppedTids() {
        List<Integer> out = new ArrayList<>(threads.size());
        for (Traced t : threads.values()) if (t.state == State.STOPPED) out.add(t.tid);
        return out;
    }

    /** The threads stopped or dying (a zombie leader), sorted: what {@code /proc/PID/task} lists during a stop. */
    List<Integer> stoppedOrDyingTids() {
        List<Integer> out = new ArrayList<>();
        for (Traced t : threads.values()) if (t.state == State.STOPPED || t.state == State.DYING) out.add(t.tid);
        Collections.sort(out);
        return out;
    }

    /** Ends a stop: every stopped thread runs on ({@code PTRACE_LISTEN} for those in a group-stop). */
    void endStop() {
        inStop = false;
        for (Traced t : threads.values()) {
            if (t.state == State.STOPPED) resume(t, t.groupStop ? PtraceLib.PTRACE_LISTEN : PtraceLib.PTRACE_CONT, 0);
            else if (t.state == State.INTERRUPTING) t.state = State.RUNNING; // its stop, when reported, is let go
        }
    }

    /** The threads first seen after the base mark, stopped or not. */
    List<Integer> bornTids() {
        List<Integer> out = new ArrayList<>();
        for (Traced t : threads.values()) if (t.serial > baseMark) out.add(t.tid);
        return out;
    }

    /** The threads dying (killed, or a zombie leader): listed, traced, but no registers to read. */
    List<Integer> dyingTids() {
        List<Integer> out = new ArrayList<>();
        for (Traced t : threads.values()) if (t.state == State.DYING) out.add(t.tid);
        return out;
    }

    /** Ends a stop by {@code PTRACE_DETACH} of every stopped thread, and forgets every thread. */
    void detachStopped() {
        inStop = false;
        detachedSerials.clear();
        for (Traced t : threads.values()) detachedSerials.put(t.tid, t.serial);
        for (Traced t : threads.values()) {
            if (t.state != State.STOPPED) continue;
            if (PtraceDirect.ptrace(PtraceLib.PTRACE_DETACH, t.tid, 0L, 0L) < 0) {
                int e = Native.getLastError();
                if (e != Errno.ESRCH) LOG.error("pid {}: PTRACE_DETACH of tid {} failed: {}", pid, t.tid, Errno.name(e));
            }
        }
        // threads killed in their stop stay zombies until their tracer collects them: collect what is there
        relay();
        threads.clear();
    }

    /** {@code waitpid(-1, __WALL|__WNOTHREAD|WNOHANG)}: a report of one of this thread's tracees, or pid 0. */
    private WaitStatus waitAny() throws SyscallException {
        while (true) {
            int r = PtraceDirect.waitpid(-1, waitStatus, WAIT_ANY);
            if (r >= 0) return new WaitStatus(r, r == 0 ? 0 : waitStatus[0]);
            int e = Native.getLastError();
            if (e != Errno.EINTR) throw new SyscallException("waitpid", e, "pid -1 (tracees of pid " + pid + ")");
        }
    }

    /** What the kernel says of the first few threads still not stopped: what a stop that timed out waited on. */
    private String describeInterrupting() {
        List<String> out = new ArrayList<>();
        for (Traced t : threads.values()) {
            if (t.state != State.INTERRUPTING) continue;
            if (out.size() == 3) {
                out.add("…");
                break;
            }
            out.add(describe(pid, t.tid));
        }
        return String.join("; ", out);
    }

    /**
     * "tid N (comm): state S, wchan W" from {@code /proc/PID/task/N}: the scheduler state letter and the kernel
     * function a sleeping thread waits in ({@code D} with a page-fault or I/O function, say), or what could not be read.
     */
    static String describe(int pid, int tid) {
        String dir = "/proc/" + pid + "/task/" + tid + "/";
        try {
            String stat = Files.readString(java.nio.file.Path.of(dir + "stat"));
            int close = stat.lastIndexOf(')');
            String comm = stat.substring(stat.indexOf('(') + 1, close);
            String state = stat.substring(close + 2, close + 3);
            String wchan;
            try {
                wchan = Files.readString(java.nio.file.Path.of(dir + "wchan")).trim();
            } catch (IOException e) {
                wchan = "?";
            }
            return "tid " + tid + " (" + comm + "): state " + state + ", wchan " + (wchan.isEmpty() || wchan.equals("0") ? "-" : wchan);
        } catch (IOException | RuntimeException e) {
            return "tid " + tid + ": " + e.getMessage();
        }
    }

    private int interrupting() {
        int n = 0;
        for (Traced t : threads.values()) if (t.state == State.INTERRUPTING) n++;
        return n;
    }

    /** Handles every pending report of a tracee; returns how many there were. */
    int relay() {
        int n = 0;
        while (true) {
            WaitStatus st;
            try {
                st = waitAny();
            } catch (SyscallException e) {
                if (e.errno() != Errno.ECHILD) LOG.warn("pid {}: waitpid: {}", pid, e.getMessage());
                return n; // ECHILD: nothing traced
            }
            if (st.pid() <= 0) return n;
            handle(st);
            n++;
        }
    }

    /** One report of a tracee. */
    private void handle(WaitStatus st) {
        int tid = st.pid();
        if (pendingDetach.remove((Integer) tid)) {
            if (st.stopped()) PtraceDirect.ptrace(PtraceLib.PTRACE_DETACH, tid, 0L, 0L);
            return;
        }
        Traced t = threads.get(tid);
        if (st.exited() || st.signaled()) {
            if (t != null) {
                threads.remove(tid);
                counters.exits.incrementAndGet();
            }
            return;
        }
        if (!st.stopped()) return;
        if (t == null) {
            // a new thread (PTRACE_O_TRACECLONE), reporting its first stop, possibly before its parent's clone event;
            // during a stop it stays stopped at its first instruction and is part of the capture
            t = newThread(tid);
            if (t == null) return;
            if (inStop) t.state = State.INTERRUPTING;
        }
        int event = st.ptraceEvent(), sig = st.stopSig();
        switch (event) {
            case Ptrace.PTRACE_EVENT_STOP -> {
                boolean groupStop = sig == Syscalls.SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
                if (t.state == State.INTERRUPTING) {
                    t.state = State.STOPPED;
                    t.groupStop = groupStop;
                } else if (groupStop) {
                    counters.groupStops.incrementAndGet();
                    t.groupStop = true;
                    resume(t, PtraceLib.PTRACE_LISTEN, 0);
                } else {
                    // the end of a group-stop (SIGCONT), a new thread's first stop outside an epoch, a late interrupt
                    t.groupStop = false;
                    resume(t, PtraceLib.PTRACE_CONT, 0);
                }
            }
            case PtraceLib.PTRACE_EVENT_CLONE -> {
                counters.clones.incrementAndGet();
                if (PtraceDirect.ptrace(PtraceLib.PTRACE_GETEVENTMSG, tid, 0L, Pointer.nativeValue(eventMsg)) == 0) {
                    int child = (int) eventMsg.getLong(0);
                    // during a stop, the child is stopped at its first instruction: wait for that report too
                    if (!threads.containsKey(child)) {
                        Traced c = newThread(child);
                        if (c != null && inStop) c.state = State.INTERRUPTING;
                    }
                }
                continueKeeping(t, 0);
            }
            case PtraceLib.PTRACE_EVENT_EXEC -> {
                counters.execs.incrementAndGet();
                continueKeeping(t, 0);
            }
            case 0 -> {
                // signal-delivery-stop: the signal was dequeued for this thread; deliver it as if untraced
                counters.relayedSignals.incrementAndGet();
                continueKeeping(t, sig);
            }
            default -> continueKeeping(t, 0);
        }
    }

    /** A tid reported for the first time: traced if it belongs to the process, else let go. */
    private Traced newThread(int tid) {
        if (!Files.exists(ProcFs.dir(pid).resolve("task").resolve(Integer.toString(tid)))) {
            // a clone that is not a thread of this process (a process clone with a non-SIGCHLD exit signal)
            PtraceDirect.ptrace(PtraceLib.PTRACE_DETACH, tid, 0L, 0L);
            return null;
        }
        Traced t = new Traced(tid, nextSerial++);
        threads.put(tid, t);
        return t;
    }

    /**
     * Lets a thread run on after a report that is not its epoch stop. Entering any ptrace-stop (this clone, exec or
     * signal report) clears a {@code PTRACE_INTERRUPT} still pending (kernel/signal.c {@code ptrace_stop}: "any trap
     * clears pending STOP trap"), so a thread being stopped is interrupted again: else it ran on, and the stop timed
     * out waiting for it (seen with H2's acceptor thread, which clones a thread per connection).
     */
    private void continueKeeping(Traced t, int sig) {
        State s = t.state;
        resume(t, PtraceLib.PTRACE_CONT, sig);
        if (s != State.INTERRUPTING || t.state != State.RUNNING) return;
        int e = interrupt(t);
        if (e != 0) {
            LOG.warn("pid {}: PTRACE_INTERRUPT of tid {} failed: {}", pid, t.tid, Errno.name(e));
            t.state = State.DYING;
        }
    }

    private void resume(Traced t, long request, int sig) {
        if (PtraceDirect.ptrace(request, t.tid, 0L, sig) < 0) {
            int e = Native.getLastError();
            // ESRCH: killed meanwhile (its exit comes as an event)
            if (e != Errno.ESRCH) LOG.warn("pid {}: {} of tid {} failed: {}", pid, request == PtraceLib.PTRACE_LISTEN ? "PTRACE_LISTEN"
                    : "PTRACE_CONT", t.tid, Errno.name(e));
            t.state = State.DYING;
            return;
        }
        t.state = request == PtraceLib.PTRACE_LISTEN ? State.LISTENING : State.RUNNING;
    }
}
