package io.checkpointd.linux.ptrace;

import com.sun.jna.Native;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every thread of a process held in a ptrace-stop, for one epoch's capture: registers, XSAVE state, signal
 * masks and queues are readable, and (no thread running user code) its memory is consistent.
 *
 * <p>How a process is stopped is CRIU's recipe ({@code criu/seize.c}), because registers cannot be read from a
 * frozen thread: {@code PTRACE_SEIZE} + {@code PTRACE_INTERRUPT} every thread while the cgroup is frozen (no
 * thread can start or end meanwhile), thaw, then wait until each thread reports its ptrace-stop, which it enters
 * before running any more user code. A thread that instead reports a <em>signal-delivery-stop</em> has a signal
 * dequeued for it: the signal is remembered ({@link #deliveryStopSignals()}, counted in
 * {@link #pendingSignals()}) and delivered again by {@link #close()}'s {@code PTRACE_DETACH}.
 *
 * <pre>
 *   frozen --stop()--> [all threads in ptrace-stop, cgroup thawed] --close()--> running (detached)
 *                 \--(any failure)--> running (detached, thawed), IOException
 * </pre>
 *
 * <p>ptrace requests must all come from the thread that seized: call {@link #stop}, every method and
 * {@link #close()} on one Java thread. The target must not be a child of this JVM (the JDK's process-reaper
 * thread would consume the stops, see {@link Ptrace#waitStop(int, Duration)}). Native buffers are per calling
 * thread and reused across epochs.
 */
public final class StoppedProcess implements StoppedThreads {
    private static final Logger LOG = LoggerFactory.getLogger(StoppedProcess.class);
    /** After a failure, how long to wait for seized threads to reach their stop so they can be detached. */
    private static final long ABORT_WAIT_NANOS = Duration.ofSeconds(2).toNanos();
    /** How long to wait for a thread killed in its ptrace-stop to exit, so that its exit can be collected. */
    private static final long REAP_WAIT_NANOS = Duration.ofSeconds(1).toNanos();

    private static final byte SEIZED = 1, STOPPED = 2, GONE = 3, DETACHED = 4;

    private final int pid;
    private final int[] tid;
    private final byte[] state;
    /** Signal of a signal-delivery-stop, re-delivered at detach; 0 for an ordinary (interrupt or group) stop. */
    private final int[] stopSig;
    /** Zombie threads that could not be seized: still listed in /proc/PID/task, nothing to capture. */
    private final List<Integer> zombies = new ArrayList<>();
    private final ThreadReader reader = ThreadReader.local();
    private boolean closed;

    private StoppedProcess(int pid, List<Integer> tids) {
        this.pid = pid;
        this.tid = tids.stream().mapToInt(Integer::intValue).toArray();
        this.state = new byte[tid.length];
        this.stopSig = new int[tid.length];
    }

    /**
     * Stops every thread of {@code pid}, which {@code freezer} must hold frozen on entry. Returns with all
     * threads in ptrace-stop and the cgroup thawed; on any failure (including {@code timeout} passing before
     * every thread stopped) it thaws, detaches every thread it seized and throws, leaving the process running.
     */
    public static StoppedProcess stop(int pid, Freezer freezer, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        StoppedProcess sp = new StoppedProcess(pid, ProcFs.threads(pid)); // stable: nothing runs while frozen
        boolean thawed = false;
        try {
            sp.seizeAll();
            freezer.thaw();
            thawed = true;
            sp.awaitStops(deadline);
            return sp;
        } catch (IOException | RuntimeException | Error e) {
            if (!thawed) {
                try {
                    freezer.thaw();
                } catch (IOException | RuntimeException t) {
                    e.addSuppressed(t);
                }
            }
            sp.abort(e);
            throw e;
        }
    }

    private void seizeAll() throws IOException {
        for (int i = 0; i < tid.length; i++) {
            long r = PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_SEIZE, tid[i], 0L, 0L);
            if (r < 0) {
                int e = Native.getLastError();
                if (e == Errno.ESRCH) {
                    state[i] = GONE; // exited between listing and seizing (it was already exiting when frozen)
                    continue;
                }
                if (e == Errno.EPERM && ProcFs.isZombie(tid[i])) {
                    state[i] = GONE; // exited thread not yet reaped (e.g. a leader that called pthread_exit)
                    zombies.add(tid[i]);
                    continue;
                }
                throw new SyscallException("ptrace(PTRACE_SEIZE)", e, "pid " + pid + " tid " + tid[i]
                        + (e == Errno.EPERM ? " (already traced? TracerPid " + tracerPid(tid[i]) + ")" : ""));
            }
            state[i] = SEIZED;
            if (PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_INTERRUPT, tid[i], 0L, 0L) < 0) {
                int e = Native.getLastError();
                if (e != Errno.ESRCH) throw new SyscallException("ptrace(PTRACE_INTERRUPT)", e, "tid " + tid[i]);
                // ESRCH: it is dying; its exit is collected by awaitStops
            }
        }
    }

    /** Polls every not-yet-stopped thread ({@code waitpid(tid, __WALL|WNOHANG)}), backing off 20 us to 1 ms. */
    private void awaitStops(long deadline) throws IOException {
        long pause = 20_000;
        while (true) {
            int waiting = 0;
            boolean progress = false;
            for (int i = 0; i < tid.length; i++) {
                if (state[i] != SEIZED) continue;
                WaitStatus st = Syscalls.waitpid(tid[i], Syscalls.__WALL | Syscalls.WNOHANG);
                if (st.pid() == 0) {
                    waiting++;
                } else {
                    progress = true;
                    record(i, st);
                }
            }
            if (waiting == 0) return;
            if (System.nanoTime() - deadline > 0) {
                List<String> late = new ArrayList<>();
                for (int i = 0; i < tid.length && late.size() < 5; i++) {
                    if (state[i] == SEIZED) late.add(tid[i] + " (" + ProcFs.statusField(tid[i], "State").orElse("?") + ")");
                }
                throw new IOException("pid " + pid + ": " + waiting + " of " + tid.length + " threads not in ptrace-stop"
                        + " within the timeout, e.g. " + late);
            }
            if (progress) {
                pause = 20_000;
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(pause);
                pause = Math.min(pause * 2, 1_000_000);
            }
        }
    }

    private void record(int i, WaitStatus st) {
        if (st.exited() || st.signaled()) {
            state[i] = GONE;
        } else if (st.stopped()) {
            state[i] = STOPPED;
            // Under PTRACE_SEIZE an interrupt- or group-stop carries PTRACE_EVENT_STOP; a stop without an event
            // is a signal-delivery-stop: that signal is dequeued and would be lost if not re-delivered.
            if (st.ptraceEvent() != Ptrace.PTRACE_EVENT_STOP) stopSig[i] = st.stopSig();
        }
    }

    /** Error path: every seized thread is brought to a stop (bounded) and detached; nothing stays stopped. */
    private void abort(Throwable cause) {
        long deadline = System.nanoTime() + ABORT_WAIT_NANOS;
        try {
            awaitStops(deadline);
        } catch (IOException | RuntimeException e) {
            LOG.error("pid {}: after '{}', threads still not stopped, cannot detach them: {}", pid, cause.getMessage(), e.getMessage());
        }
        detachAll();
    }

    @Override
    public int pid() {
        return pid;
    }

    /**
     * The stopped threads, in ascending order (threads that exited during the stop are left out); still the
     * same list after {@link #close()}.
     */
    @Override
    public List<Integer> tids() {
        List<Integer> out = new ArrayList<>(tid.length);
        for (int i = 0; i < tid.length; i++) if (state[i] == STOPPED || state[i] == DETACHED) out.add(tid[i]);
        return out;
    }

    /**
     * True if {@code /proc/PID/task} now lists exactly {@link #tids()} (plus zombie threads that could not be
     * seized): no thread appeared or vanished during the stop, so the capture covers the whole process.
     */
    @Override
    public boolean threadSetStable() throws IOException {
        List<Integer> expect = new ArrayList<>(tids());
        expect.addAll(zombies);
        Collections.sort(expect);
        return ProcFs.threads(pid).equals(expect);
    }

    /**
     * Reads every stopped thread's registers ({@code PTRACE_GETREGS}, adjusted for syscall restart as CRIU
     * does), XSAVE area ({@code PTRACE_GETREGSET NT_X86_XSTATE}) and blocked mask ({@code PTRACE_GETSIGMASK}).
     */
    @Override
    public List<ThreadState> capture() throws SyscallException {
        ensureOpen();
        List<ThreadState> out = new ArrayList<>(tid.length);
        for (int i = 0; i < tid.length; i++) if (state[i] == STOPPED) out.add(reader.read(tid[i]));
        return out;
    }

    /**
     * Queued signals: each stopped thread's private queue and the process's shared queue
     * ({@code PTRACE_PEEKSIGINFO}), plus the signals that caused signal-delivery-stops (dequeued already,
     * re-delivered at {@link #close()}).
     */
    @Override
    public int pendingSignals() throws SyscallException {
        ensureOpen();
        int n = 0;
        int any = -1;
        for (int i = 0; i < tid.length; i++) {
            if (state[i] != STOPPED) continue;
            if (any < 0) any = tid[i];
            n += reader.peek(tid[i], false, null);
            if (stopSig[i] != 0) n++;
        }
        if (any >= 0) n += reader.peek(any, true, null);
        return n;
    }

    /** The raw 128-byte {@code siginfo_t}s queued for thread {@code tid} (private queue), in queue order. */
    @Override
    public List<byte[]> queuedSiginfo(int tid) throws SyscallException {
        ensureOpen();
        return reader.siginfo(tid, false);
    }

    /** The raw 128-byte {@code siginfo_t}s of the process-wide (shared) pending queue. */
    @Override
    public List<byte[]> sharedSiginfo() throws SyscallException {
        ensureOpen();
        List<Integer> t = tids();
        return t.isEmpty() ? new ArrayList<>() : reader.siginfo(t.get(0), true);
    }

    /** Threads that reported a signal-delivery-stop, and the signal (to be re-delivered at detach). */
    public Map<Integer, Integer> deliveryStopSignals() {
        Map<Integer, Integer> m = new LinkedHashMap<>();
        for (int i = 0; i < tid.length; i++) if (state[i] == STOPPED && stopSig[i] != 0) m.put(tid[i], stopSig[i]);
        return m;
    }

    /** {@code PTRACE_DETACH} of every stopped thread, re-delivering remembered signals. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        detachAll();
    }

    private void detachAll() {
        closed = true;
        List<Integer> killed = new ArrayList<>();
        for (int i = 0; i < tid.length; i++) {
            if (state[i] != STOPPED) continue;
            if (PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_DETACH, tid[i], 0L, stopSig[i]) < 0) {
                int e = Native.getLastError();
                if (e == Errno.ESRCH) {
                    killed.add(i);
                    continue;
                }
                LOG.error("pid {}: PTRACE_DETACH of tid {} failed: {}", pid, tid[i], Errno.name(e));
            }
            state[i] = DETACHED;
        }
        if (!killed.isEmpty()) reapKilled(killed);
    }

    /**
     * SIGKILL ended these threads' ptrace-stops: they die, and each stays a zombie until its tracer (we) collects
     * it; uncollected, the process could not be reaped by its parent for as long as this daemon lives (CRIU then
     * sees "zombies with threads"). Bounded; in any order, since a leader is collectable only after its threads.
     */
    private void reapKilled(List<Integer> killed) {
        long deadline = System.nanoTime() + REAP_WAIT_NANOS;
        long pause = 20_000;
        while (!killed.isEmpty()) {
            for (var it = killed.iterator(); it.hasNext(); ) {
                int i = it.next();
                try {
                    WaitStatus st = Syscalls.waitpid(tid[i], Syscalls.__WALL | Syscalls.WNOHANG);
                    if (st.pid() == 0) continue;
                    if (st.exited() || st.signaled()) {
                        state[i] = GONE;
                        it.remove();
                    } else if (PtraceLib.INSTANCE.ptrace(PtraceLib.PTRACE_DETACH, tid[i], 0L, 0L) == 0) {
                        state[i] = DETACHED; // a stop reported on its way out: let it go on
                        it.remove();
                    }
                } catch (SyscallException e) {
                    // ECHILD: collected already, or no longer ours
                    if (e.errno() != Errno.ECHILD) LOG.warn("pid {}: collecting killed tid {}: {}", pid, tid[i], e.getMessage());
                    state[i] = GONE;
                    it.remove();
                }
            }
            if (killed.isEmpty() || System.nanoTime() - deadline > 0) break;
            LockSupport.parkNanos(pause);
            pause = Math.min(pause * 2, 1_000_000);
        }
        for (int i : killed) LOG.warn("pid {}: tid {} was killed while stopped and has not exited yet", pid, tid[i]);
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("pid " + pid + ": threads already detached");
    }


    private static String tracerPid(int t) {
        try {
            return ProcFs.statusField(t, "TracerPid").orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    @Override
    public String toString() {
        return "StoppedProcess[pid " + pid + ", threads " + Arrays.toString(tid) + (closed ? ", detached]" : "]");
    }
}
