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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps every thread of one process {@code PTRACE_SEIZE}d for as long as it is protected, so that an epoch's stop is
 * one {@code PTRACE_INTERRUPT} and one {@code PTRACE_CONT} per thread instead of a seize under the freezer, a thaw and
 * a detach (measured on a 45-thread JVM: 1.0 ms against 2.9-3.7 ms, docs/design/incremental.md), and the thread set
 * is known from ptrace events rather than read from {@code /proc}.
 *
 * <p>ptrace requests are tied to the thread that seized, so a tracer owns one Java thread and every request runs
 * there: hand work to it with {@link #call}. Between calls the thread relays what the tracees report, polling
 * {@code waitpid(-1, __WALL|__WNOTHREAD|WNOHANG)} (its own tracees only, never another thread's children) every
 * 50 us to 1 ms:
 * <ul>
 *   <li>a signal-delivery-stop: the signal is re-injected at once ({@code PTRACE_CONT(sig)}); the JVM's own signals
 *       (safepoint polls fault with SIGSEGV) reach it up to ~1 ms late;</li>
 *   <li>a new thread ({@code PTRACE_O_TRACECLONE}): traced from its first instruction, let run;</li>
 *   <li>an exit: forgotten, so that the parent can reap the process;</li>
 *   <li>a group-stop (SIGSTOP, SIGTSTP...): {@code PTRACE_LISTEN}, so job control works as without a tracer.</li>
 * </ul>
 *
 * <pre>
 *   detached --attach() [frozen]--> attached (threads run) --stopAll()--> stopped --close()--> attached
 *       ^                                                                     |
 *       +----------------------------------- detach() [caller froze] --------+
 * </pre>
 *
 * <p>A CRIU dump needs the threads untraced: {@link Stop#detach()} them while frozen, {@link #attach()} again
 * before thawing. If the daemon dies, the kernel detaches the threads and they run on (a signal caught in a stop is
 * delivered).
 */
public final class Tracer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Tracer.class);
    private static final long OPTIONS = PtraceLib.PTRACE_O_TRACECLONE | PtraceLib.PTRACE_O_TRACEEXEC;
    private static final long MIN_POLL_NANOS = 50_000, MAX_POLL_NANOS = 1_000_000;
    /** The default of the longest sleep between two polls for ptrace-stops (see {@link #start(int, long)}). */
    public static final long DEFAULT_STOP_POLL_MAX_NANOS = 100_000;
    private static final int WAIT_ANY = Syscalls.__WALL | Syscalls.__WNOTHREAD | Syscalls.WNOHANG;
    private static final int SIGTSTP = 20, SIGTTIN = 21, SIGTTOU = 22;

    /** Work run on the tracer thread. */
    @FunctionalInterface
    public interface Work<T> {
        T run() throws IOException, InterruptedException;
    }

    private enum State { RUNNING, INTERRUPTING, STOPPED, LISTENING, DYING }

    /** One traced thread; confined to the tracer thread. */
    private static final class Traced {
        final int tid;
        State state = State.RUNNING;
        /** In a group-stop when stopped: resumed with PTRACE_LISTEN, not PTRACE_CONT. */
        boolean groupStop;

        Traced(int tid) {
            this.tid = tid;
        }
    }

    private final int pid;
    private final Thread thread;
    private final ConcurrentLinkedQueue<FutureTask<?>> jobs = new ConcurrentLinkedQueue<>();
    private volatile boolean closing;
    private final TreeMap<Integer, Traced> threads = new TreeMap<>();
    private volatile boolean attached;
    private Stop current;
    private final Memory eventMsg = new Memory(8);
    private final AtomicLong relayedSignals = new AtomicLong(), clones = new AtomicLong(), exits = new AtomicLong(),
            groupStops = new AtomicLong(), execs = new AtomicLong(), attaches = new AtomicLong();

    /**
     * The longest sleep between two polls for ptrace-stops in {@link #stopAll}: the stop is over only when this
     * thread sees the last one, so a longer sleep is added to the pause.
     */
    private final long stopPollMaxNanos;

    private Tracer(int pid, long stopPollMaxNanos) {
        this.pid = pid;
        this.stopPollMaxNanos = stopPollMaxNanos;
        this.thread = new Thread(this::loop, "tracer-" + pid);
        thread.setDaemon(true);
    }

    /** Starts the tracer thread for {@code pid}; nothing is traced until {@link #attach()}. */
    public static Tracer start(int pid) {
        return start(pid, DEFAULT_STOP_POLL_MAX_NANOS);
    }

    /** {@link #start(int)}, sleeping at most {@code stopPollMaxNanos} between two polls for the threads' ptrace-stops. */
    public static Tracer start(int pid, long stopPollMaxNanos) {
        Tracer t = new Tracer(pid, stopPollMaxNanos);
        t.thread.start();
        return t;
    }

    public int pid() {
        return pid;
    }

    /** Whether the threads are traced (after {@link #attach()}, before {@link Stop#detach()}). */
    public boolean attached() {
        return attached;
    }

    /**
     * Runs {@code work} on the tracer thread and returns its result; its exceptions are rethrown here as they were
     * (an {@link IOException}, {@link InterruptedException}, unchecked exception or error).
     */
    public <T> T call(Work<T> work) throws IOException, InterruptedException {
        if (Thread.currentThread() == thread) return work.run();
        if (closing) throw new IOException("tracer of pid " + pid + " is closed");
        FutureTask<T> f = new FutureTask<>(work::run);
        jobs.add(f);
        LockSupport.unpark(thread);
        try {
            while (true) {
                try {
                    return f.get(100, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    // queued just as the tracer closed: nobody will run it
                    if (!thread.isAlive() && f.cancel(false)) throw new IOException("tracer of pid " + pid + " is closed");
                }
            }
        } catch (CancellationException e) {
            throw new IOException("tracer of pid " + pid + " is closed");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) throw io;
            if (c instanceof InterruptedException ie) throw ie;
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error er) throw er;
            throw new IOException(c);
        }
    }

    /**
     * Seizes every thread of the process. The caller holds it frozen (no thread can start or end meanwhile); the
     * threads run on when it thaws. On failure, every thread seized is detached again.
     */
    public void attach() throws IOException {
        onTracerThread();
        if (attached) return;
        List<Integer> tids = ProcFs.threads(pid);
        List<Integer> seized = new ArrayList<>();
        try {
            for (int t : tids) {
                long r = PtraceDirect.ptrace(PtraceLib.PTRACE_SEIZE, t, 0L, OPTIONS);
                if (r < 0) {
                    int e = Native.getLastError();
                    if (e == Errno.ESRCH || (e == Errno.EPERM && ProcFs.isZombie(t))) continue; // exited, or a zombie leader
                    throw new SyscallException("ptrace(PTRACE_SEIZE)", e, "pid " + pid + " tid " + t);
                }
                seized.add(t);
            }
        } catch (IOException | RuntimeException e) {
            for (int t : seized) detachRunning(t);
            throw e;
        }
        if (seized.isEmpty()) throw new IOException("pid " + pid + " has no thread left to trace");
        threads.clear();
        for (int t : seized) threads.put(t, new Traced(t));
        attached = true;
        attaches.incrementAndGet();
    }

    /** A running seized thread cannot be detached; a frozen one can't stop. Only used right after seizing, frozen. */
    private void detachRunning(int t) {
        // PTRACE_DETACH needs a ptrace-stop; a frozen thread cannot enter one, but the kernel detaches a tracee
        // whose tracer exits. Right after a failed seize under the freezer, interrupt and detach on thaw instead.
        if (PtraceDirect.ptrace(PtraceLib.PTRACE_INTERRUPT, t, 0L, 0L) == 0) {
            pendingDetach.add(t);
        }
    }

    /** Threads to detach when they report the stop asked for after a failed attach. */
    private final List<Integer> pendingDetach = new ArrayList<>();

    /**
     * Stops every traced thread: {@code PTRACE_INTERRUPT} each, then waits for each to report its stop, relaying any
     * signal that arrives meanwhile (a thread stops only after it took the signal). A thread that starts meanwhile
     * is stopped at its first instruction and included. On failure every stopped thread runs again.
     */
    public Stop stopAll(Duration timeout) throws IOException {
        onTracerThread();
        if (!attached) throw new IOException("pid " + pid + " is not traced");
        if (current != null) throw new IllegalStateException("pid " + pid + " is stopped already");
        relay();
        if (threads.isEmpty()) throw new IOException("pid " + pid + ": every thread exited");
        long deadline = System.nanoTime() + timeout.toNanos();
        // current before the first interrupt: on any failure its close() lets every interrupted thread go on
        Stop s = new Stop();
        current = s;
        try {
            for (Traced t : threads.values()) {
                if (PtraceDirect.ptrace(PtraceLib.PTRACE_INTERRUPT, t.tid, 0L, 0L) < 0) {
                    int e = Native.getLastError();
                    if (e != Errno.ESRCH) throw new SyscallException("ptrace(PTRACE_INTERRUPT)", e, "tid " + t.tid);
                    t.state = State.DYING; // killed, or a zombie leader: its exit, if any, comes as an event
                } else {
                    t.state = State.INTERRUPTING;
                }
            }
            long pause = 10_000;
            while (interrupting() > 0) {
                WaitStatus st = waitAny();
                if (st.pid() > 0) {
                    handle(st);
                    pause = 10_000;
                    continue;
                }
                if (System.nanoTime() - deadline > 0) {
                    throw new IOException("pid " + pid + ": " + interrupting() + " of " + threads.size()
                            + " threads not in ptrace-stop within " + timeout.toMillis() + " ms");
                }
                if (pause < 80_000) Thread.onSpinWait();
                else LockSupport.parkNanos(pause);
                pause = Math.min(pause * 2, stopPollMaxNanos);
            }
            if (threads.isEmpty()) throw new IOException("pid " + pid + ": every thread exited");
            return s;
        } catch (IOException | RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    private final int[] waitStatus = new int[1];

    /** {@code waitpid(-1, __WALL|__WNOTHREAD|WNOHANG)}: a report of one of this thread's tracees, or pid 0. */
    private WaitStatus waitAny() throws SyscallException {
        while (true) {
            int r = PtraceDirect.waitpid(-1, waitStatus, WAIT_ANY);
            if (r >= 0) return new WaitStatus(r, r == 0 ? 0 : waitStatus[0]);
            int e = Native.getLastError();
            if (e != Errno.EINTR) throw new SyscallException("waitpid", e, "pid -1 (tracees of pid " + pid + ")");
        }
    }

    private int interrupting() {
        int n = 0;
        for (Traced t : threads.values()) if (t.state == State.INTERRUPTING) n++;
        return n;
    }

    /** Handles every pending report of a tracee; returns how many there were. */
    private int relay() {
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
                exits.incrementAndGet();
            }
            return;
        }
        if (!st.stopped()) return;
        if (t == null) {
            // a new thread (PTRACE_O_TRACECLONE), reporting its first stop, possibly before its parent's clone event;
            // during a stop it stays stopped at its first instruction and is part of the capture
            t = newThread(tid);
            if (t == null) return;
            if (current != null) t.state = State.INTERRUPTING;
        }
        int event = st.ptraceEvent(), sig = st.stopSig();
        switch (event) {
            case Ptrace.PTRACE_EVENT_STOP -> {
                boolean groupStop = sig == Syscalls.SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
                if (t.state == State.INTERRUPTING) {
                    t.state = State.STOPPED;
                    t.groupStop = groupStop;
                } else if (groupStop) {
                    groupStops.incrementAndGet();
                    t.groupStop = true;
                    resume(t, PtraceLib.PTRACE_LISTEN, 0);
                } else {
                    // the end of a group-stop (SIGCONT), a new thread's first stop outside an epoch, a late interrupt
                    t.groupStop = false;
                    resume(t, PtraceLib.PTRACE_CONT, 0);
                }
            }
            case PtraceLib.PTRACE_EVENT_CLONE -> {
                clones.incrementAndGet();
                if (PtraceDirect.ptrace(PtraceLib.PTRACE_GETEVENTMSG, tid, 0L, Pointer.nativeValue(eventMsg)) == 0) {
                    int child = (int) eventMsg.getLong(0);
                    // during a stop, the child is stopped at its first instruction: wait for that report too
                    if (!threads.containsKey(child)) {
                        Traced c = newThread(child);
                        if (c != null && current != null) c.state = State.INTERRUPTING;
                    }
                }
                continueKeeping(t, 0);
            }
            case PtraceLib.PTRACE_EVENT_EXEC -> {
                execs.incrementAndGet();
                continueKeeping(t, 0);
            }
            case 0 -> {
                // signal-delivery-stop: the signal was dequeued for this thread; deliver it as if untraced
                relayedSignals.incrementAndGet();
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
        Traced t = new Traced(tid);
        threads.put(tid, t);
        return t;
    }

    /** Lets a thread run on after a report that is not its epoch stop; an interrupt still pending stops it later. */
    private void continueKeeping(Traced t, int sig) {
        State s = t.state;
        resume(t, PtraceLib.PTRACE_CONT, sig);
        if (s == State.INTERRUPTING && t.state == State.RUNNING) t.state = State.INTERRUPTING;
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

    /** Counters for status: signals relayed, threads started and ended, group-stops, attaches. */
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("relayed-signals", relayedSignals.get());
        m.put("clones", clones.get());
        m.put("exits", exits.get());
        m.put("group-stops", groupStops.get());
        m.put("execs", execs.get());
        m.put("attaches", attaches.get());
        return m;
    }

    private void loop() {
        long poll = MIN_POLL_NANOS;
        while (!closing) {
            FutureTask<?> job = jobs.poll();
            if (job != null) {
                job.run();
                poll = MIN_POLL_NANOS;
                continue;
            }
            int n = attached || !pendingDetach.isEmpty() ? relay() : 0;
            poll = n > 0 ? MIN_POLL_NANOS : Math.min(poll * 2, MAX_POLL_NANOS);
            LockSupport.parkNanos(poll);
        }
        FutureTask<?> job;
        while ((job = jobs.poll()) != null) job.cancel(false);
        if (attached) {
            try (Stop s = stopAll(Duration.ofSeconds(2))) {
                s.detach();
            } catch (IOException | RuntimeException e) {
                LOG.warn("pid {}: could not detach before closing ({}); the threads are let go when this daemon exits", pid, e.getMessage());
            }
        }
    }

    /** Detaches every thread (stopping them first) and ends the tracer thread. */
    @Override
    public void close() {
        closing = true;
        LockSupport.unpark(thread);
        if (Thread.currentThread() == thread) return;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void onTracerThread() {
        if (Thread.currentThread() != thread) throw new IllegalStateException("ptrace requests for pid " + pid + " must run on " + thread.getName());
    }


    /** Every traced thread in ptrace-stop, from {@link #stopAll}; {@link #close()} lets them run on. */
    public final class Stop implements StoppedThreads {
        private final ThreadReader reader = ThreadReader.local();
        private boolean closed;

        private Stop() {
        }

        @Override
        public int pid() {
            return pid;
        }

        @Override
        public List<Integer> tids() {
            List<Integer> out = new ArrayList<>(threads.size());
            for (Traced t : threads.values()) if (t.state == State.STOPPED) out.add(t.tid);
            return out;
        }

        /** {@code /proc/PID/task} lists exactly the stopped threads and those dying (a zombie leader). */
        @Override
        public boolean threadSetStable() throws IOException {
            List<Integer> expect = new ArrayList<>();
            for (Traced t : threads.values()) if (t.state == State.STOPPED || t.state == State.DYING) expect.add(t.tid);
            Collections.sort(expect);
            return ProcFs.threads(pid).equals(expect);
        }

        @Override
        public List<ThreadState> capture() throws SyscallException {
            ensureOpen();
            List<ThreadState> out = new ArrayList<>(threads.size());
            for (Traced t : threads.values()) if (t.state == State.STOPPED) out.add(reader.read(t.tid));
            return out;
        }

        /** Queued signals of every stopped thread and of the process (none is held in a stop: they are relayed). */
        @Override
        public int pendingSignals() throws SyscallException {
            ensureOpen();
            int n = 0, any = -1;
            for (Traced t : threads.values()) {
                if (t.state != State.STOPPED) continue;
                if (any < 0) any = t.tid;
                n += reader.peek(t.tid, false, null);
            }
            if (any >= 0) n += reader.peek(any, true, null);
            return n;
        }

        @Override
        public List<byte[]> queuedSiginfo(int tid) throws SyscallException {
            ensureOpen();
            return reader.siginfo(tid, false);
        }

        @Override
        public List<byte[]> sharedSiginfo() throws SyscallException {
            ensureOpen();
            List<Integer> t = tids();
            return t.isEmpty() ? new ArrayList<>() : reader.siginfo(t.get(0), true);
        }

        /**
         * Stops tracing: {@code PTRACE_DETACH} of every thread. Call with the process frozen if it must not run
         * before what comes next (a CRIU dump): detached threads enter the freezer before running any code.
         */
        public void detach() {
            ensureOpen();
            closed = true;
            current = null;
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
            attached = false;
        }

        /** Lets every stopped thread run on ({@code PTRACE_LISTEN} for those in a group-stop). Idempotent. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            current = null;
            for (Traced t : threads.values()) {
                if (t.state == State.STOPPED) resume(t, t.groupStop ? PtraceLib.PTRACE_LISTEN : PtraceLib.PTRACE_CONT, 0);
                else if (t.state == State.INTERRUPTING) t.state = State.RUNNING; // its stop, when reported, is let go
            }
        }

        private void ensureOpen() {
            if (closed) throw new IllegalStateException("pid " + pid + ": threads already running");
        }
    }

    @Override
    public String toString() {
        return "Tracer[pid " + pid + (attached ? ", " + threads.size() + " threads" : ", detached") + "]";
    }
}
