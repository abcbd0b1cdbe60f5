package io.checkpointd.linux.ptrace;

import com.sun.jna.Native;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.ProcFs;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps every thread of one process {@code PTRACE_SEIZE}d for as long as it is protected, so that an epoch's stop is
 * one {@code PTRACE_INTERRUPT} and one {@code PTRACE_CONT} per thread instead of a seize under the freezer, a thaw and
 * a detach (cheaper; the figures are under "Threads kept seized" in docs/design/incremental.md), and the thread set
 * is known from ptrace events rather than read from {@code /proc}. The thread table and the handling of its ptrace
 * events are in {@code TracedThreads}.
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

    /** Work run on the tracer thread. */
    @FunctionalInterface
    public interface Work<T> {
        T run() throws IOException, InterruptedException;
    }

    private final int pid;
    private final Thread thread;
    private final ConcurrentLinkedQueue<FutureTask<?>> jobs = new ConcurrentLinkedQueue<>();
    private volatile boolean closing;
    private volatile boolean attached;
    private final TracerCounters counters = new TracerCounters();
    private final TracedThreads threads;

    /**
     * The longest sleep between two polls for ptrace-stops in {@link #stopAll}: the stop is over only when this
     * thread sees the last one, so a longer sleep is added to the pause.
     */
    private final long stopPollMaxNanos;

    private Tracer(int pid, long stopPollMaxNanos) {
        this.pid = pid;
        this.stopPollMaxNanos = stopPollMaxNanos;
        this.threads = new TracedThreads(pid, counters);
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
            for (int t : seized) threads.detachRunning(t);
            throw e;
        }
        if (seized.isEmpty()) throw new IOException("pid " + pid + " has no thread left to trace");
        threads.seized(seized);
        attached = true;
        counters.attaches.incrementAndGet();
    }

    /**
     * Stops every traced thread: {@code PTRACE_INTERRUPT} each, then waits for each to report its stop, relaying any
     * signal that arrives meanwhile (a thread stops only after it took the signal). A thread that starts meanwhile
     * is stopped at its first instruction and included; then {@code /proc/PID/task} is read until it lists exactly
     * the threads stopped (or dying), seizing any it names that this tracer has not heard of, so every live thread
     * is stopped when the stop is returned. On failure every stopped thread runs again.
     */
    public Stop stopAll(Duration timeout) throws IOException {
        onTracerThread();
        if (!attached) throw new IOException("pid " + pid + " is not traced");
        if (threads.inStop()) throw new IllegalStateException("pid " + pid + " is stopped already");
        threads.relay();
        if (threads.isEmpty()) throw new IOException("pid " + pid + ": every thread exited");
        long deadline = System.nanoTime() + timeout.toNanos();
        // the stop begins before the first interrupt: on any failure its close() lets every interrupted thread go on
        Stop s = new Stop();
        threads.beginStop();
        try {
            threads.interruptAll();
            threads.awaitStops(deadline, timeout, stopPollMaxNanos);
            threads.coverListed(deadline, timeout, stopPollMaxNanos);
            if (threads.isEmpty()) throw new IOException("pid " + pid + ": every thread exited");
            return s;
        } catch (IOException | RuntimeException | Error e) {
            s.close();
            throw e;
        }
    }

    /**
     * Marks every thread traced now as a thread of the base (the CRIU dump just taken): a thread first seen later
     * is {@link ThreadState#born() born}, even if it reuses a base thread's tid. Call on the tracer thread, attached.
     */
    public void markBase() {
        onTracerThread();
        threads.markBase();
    }

    /** Counters for status: signals relayed, threads started and ended, group-stops, attaches. */
    public Map<String, Long> counters() {
        return counters.asMap();
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
            int n = attached || threads.hasPendingDetach() ? threads.relay() : 0;
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
            return threads.stoppedTids();
        }

        /** {@code /proc/PID/task} lists exactly the stopped threads and those dying (a zombie leader). */
        @Override
        public boolean threadSetStable() throws IOException {
            return ProcFs.threads(pid).equals(threads.stoppedOrDyingTids());
        }

        /** The threads first seen after the {@link #markBase() base mark} (a recycled tid included). */
        public List<Integer> bornTids() {
            return threads.bornTids();
        }

        /** The threads listed but not stopped: killed in the stop, or a zombie leader. */
        public List<Integer> dyingTids() {
            return threads.dyingTids();
        }

        /**
         * {@link #capture()} with each thread's {@link ThreadAttributes} (read again only for a thread whose registers
         * changed since its last capture: one that did not run cannot have changed them) and whether it was born
         * after the {@link #markBase() base mark}.
         */
        public List<ThreadState> captureWithAttributes() throws IOException {
            ensureOpen();
            List<Integer> stopped = tids();
            List<ThreadState> out = new ArrayList<>(stopped.size());
            for (int tid : stopped) out.add(threads.withAttributes(reader.read(tid), reader));
            return out;
        }

        @Override
        public List<ThreadState> capture() throws SyscallException {
            ensureOpen();
            List<Integer> stopped = tids();
            List<ThreadState> out = new ArrayList<>(stopped.size());
            for (int tid : stopped) out.add(reader.read(tid));
            return out;
        }

        /** Queued signals of every stopped thread and of the process (none is held in a stop: they are relayed). */
        @Override
        public int pendingSignals() throws SyscallException {
            ensureOpen();
            List<Integer> stopped = tids();
            int n = 0;
            for (int tid : stopped) n += reader.peek(tid, false, null);
            if (!stopped.isEmpty()) n += reader.peek(stopped.get(0), true, null);
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
            threads.detachStopped();
            attached = false;
        }

        /** Lets every stopped thread run on ({@code PTRACE_LISTEN} for those in a group-stop). Idempotent. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            threads.endStop();
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
