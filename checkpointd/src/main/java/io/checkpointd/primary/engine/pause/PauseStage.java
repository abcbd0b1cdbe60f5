package io.checkpointd.primary.engine.pause;

import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.linux.ptrace.Tracer;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.EngineSettings;
import io.checkpointd.primary.engine.fds.FdChanges;
import io.checkpointd.primary.engine.fds.FdReader;
import io.checkpointd.primary.engine.fds.TcpStreams;
import io.checkpointd.primary.engine.memory.MemoryCapture;
import io.checkpointd.primary.engine.memory.MemoryStage;
import io.checkpointd.primary.engine.patch.MmPatch;
import io.checkpointd.primary.engine.patch.OpenFiles;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.primary.engine.state.Reference;
import io.checkpointd.primary.engine.state.Structure;
import io.checkpointd.primary.engine.status.EngineStats;
import io.checkpointd.primary.engine.threads.ThreadCheck;
import io.checkpointd.primary.engine.threads.ThreadModel;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pause of an incremental epoch, on the tracer thread: every thread stopped, the structure compared with the
 * base's (a change is first waited out: the stop is retried after 1, 4, 16 and 64 ms, nothing sealed meanwhile), the
 * output sealed, the registers and open files read, and the threads let go. The memory stage runs on the pause's
 * second thread meanwhile ({@link MemoryStage#capture}): on two CPUs the pause is the longer of the two.
 */
public final class PauseStage implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PauseStage.class);
    /** How long a stop waits for every thread to reach its ptrace-stop. */
    public static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);
    /**
     * Pauses before retrying a stop that found the structure changing (nothing is sealed meanwhile): a file read
     * and closed, a signal about to be taken, a thread about to end are usually over by then. After these, a CRIU
     * dump, which holds the process far longer than a few retried stops.
     */
    private static final long[] DEFER = {1_000_000L, 4_000_000L, 16_000_000L, 64_000_000L};
    /** The longest {@link #settle} waits before stopping the process anyway. */
    private static final long SETTLE_NANOS = 10_000_000L;

    private final int pid;
    private final Tracer tracer;
    private final MemoryStage memory;
    private final Supplier<MmPatch> mmPatch;
    private final Supplier<ThreadModel> threadModel;
    private final Realtime realtime;
    private final EngineStats stats;
    /** Whether the tracer thread is real-time during the stop already ({@link EngineSettings#stopRealtime()}). */
    private final boolean stopRealtime = EngineSettings.stopRealtime();
    /** The pause's second thread: collect, present and copy while the tracer thread checks the structure and reads registers. */
    private final ExecutorService memoryThread;
    /** The fds opened and closed since the base dump, read in the structure check. */
    private final FdReader fdReader;
    /** Whether fd changes are captured ({@link EngineSettings#fdsCapture()}) or make the epoch a CRIU dump. */
    private final boolean fdsCapture = EngineSettings.fdsCapture();
    /** Every connected TCP socket's repair state, read in the structure check. */
    private final TcpStreams tcpStreams;

    /** An epoch's pause: the threads held, what was read, the memory, and the time held (retried stops too). */
    public record Stopped(long resumed, long held, List<ThreadState> threads, Map<Integer, OpenFiles.Open> open, FdChanges fds,
                          MemoryCapture memory, ByteBuffer pages, byte[] mm, List<Vma> vmas) {
    }

    /** What a pause came to: {@code stopped}, or why a CRIU dump is needed (and whether it left the process frozen, untraced). */
    public record Result(Stopped stopped, String why, boolean frozen) {
    }

    /** Work done with every thread stopped, once the capture is complete, just before the threads go on. */
    @FunctionalInterface
    public interface AtStop {
        /** {@code stop} may be detached and the threads attached again before it returns (the oracle's CRIU dump). */
        void run(List<ThreadState> threads, Tracer.Stop stop) throws IOException;
    }

    /**
     * {@code mmPatch}: the base's memory map image, rebuilt when only anonymous mappings changed; {@code threadModel}:
     * what the base teaches about threads born since.
     */
    public PauseStage(int pid, Tracer tracer, MemoryStage memory, Supplier<MmPatch> mmPatch, Supplier<ThreadModel> threadModel,
                      Realtime realtime, EngineStats stats) {
        this.pid = pid;
        this.tracer = tracer;
        this.memory = memory;
        this.mmPatch = mmPatch;
        this.threadModel = threadModel;
        this.realtime = realtime;
        this.stats = stats;
        this.fdReader = new FdReader(pid);
        this.tcpStreams = new TcpStreams(pid);
        this.memoryThread = Executors.newSingleThreadExecutor(r -> {
            // real-time for its whole life: it runs only inside pauses, and at normal priority it would first wait
            // for a CPU
            Thread t = new Thread(() -> {
                realtime.on();
                r.run();
            }, "pause-memory-" + pid);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * One epoch's pause, on the tracer thread, after the pre-copy ({@code pre}; {@code carry}: what earlier ones
     * re-protected for epochs then skipped).
     */
    public Result run(long n, CaptureEngine.Pause pause, Base base, Reference ref, long[] pre, long[] carry, AtStop atStop)
            throws IOException, InterruptedException {
        settle(base.structure());
        long held = 0;
        for (int attempt = 0; ; attempt++) {
            long t0 = System.nanoTime();
            // real-time from the stop on: between its polls for the threads' ptrace-stops the tracer thread sleeps,
            // and at normal priority it would then wait for a CPU behind the very threads it stopped
            boolean rt = stopRealtime && realtime.on();
            Tracer.Stop sp;
            try {
                sp = tracer.stopAll(STOP_TIMEOUT);
            } catch (IOException e) {
                if (rt) realtime.off();
                // stopAll leaves every thread running: take a CRIU dump instead
                log.warn("epoch {}: stopping the threads failed ({}): taking a CRIU dump", n, e.getMessage());
                return new Result(null, "threads could not be stopped", false);
            } catch (RuntimeException | Error e) {
                if (rt) realtime.off();
                throw e;
            }
            if (!stopRealtime) rt = realtime.on();
            Future<MemoryCapture> mem = null;
            MemoryCapture taken = null;
            boolean captured = false;
            try {
                long t1 = System.nanoTime();
                // the memory (collect, present, copy) on the pause's second thread, while this one checks the
                // structure, seals and reads the registers. Started before the maps are read: the tracker's walks
                // do not need them, the rest waits for them, spinning.
                CompletableFuture<List<Vma>> mapsRead = new CompletableFuture<>();
                mem = memoryThread.submit(() -> memory.capture(() -> Handoff.spinJoin(mapsRead, Handoff.HANDOFF_SPIN_NANOS), pre, carry, ref));
                List<Vma> maps;
                long tm = System.nanoTime();
                try {
                    maps = ProcFs.maps(pid);
                } catch (IOException | RuntimeException e) {
                    mapsRead.completeExceptionally(e);
                    throw e;
                }
                mapsRead.complete(maps);
                StructureCheck check = checkStructure(sp, maps, System.nanoTime() - tm, base.structure(), base.files());
                long t2 = System.nanoTime();
                if (check.why() != null) {
                    // what the memory thread's collect took from the tracker (pages reported whole or re-protected,
                    // removals) counts again at the next stop, this epoch's or a later one
                    MemoryCapture lost = Handoff.await(mem);
                    mem = null;
                    memory.uncommitted(lost);
                    if (attempt < DEFER.length) {
                        // often over in a moment (a file read and closed, a short-lived thread): let the process run
                        // briefly and stop it again; nothing was sealed, the epoch's instant just moves
                        sp.close();
                        held += System.nanoTime() - t0;
                        stats.deferred();
                        LockSupport.parkNanos(DEFER[attempt]);
                        continue;
                    }
                    // frozen before the threads are let go (stopped threads count as frozen; detached, they enter
                    // the freezer before running any code), so the CRIU dump sees this very instant, untraced
                    pause.freeze();
                    sp.detach();
                    return new Result(null, check.why(), true);
                }
                pause.sealStart(); // the proxy's answer travels while the registers and the memory are taken
                long t3 = System.nanoTime();
                List<ThreadState> threads = sp.captureWithAttributes();
                Map<Integer, OpenFiles.Open> open = OpenFiles.read(pid, check.now().fds(), fdReader.fdInfo(check.now().fds().keySet()));
                long t4 = System.nanoTime();
                MemoryCapture m;
                try {
                    m = Handoff.await(Handoff.spinUntilDone(mem, Handoff.JOIN_SPIN_NANOS));
                } catch (IOException | RuntimeException e) {
                    ref.resync(true); // what its collect took from the tracker is gone with it
                    throw e;
                } finally {
                    mem = null;
                }
                long t5 = System.nanoTime();
                taken = m;
                pause.sealAwait();
                pause.atCapture();
                long sealRest = System.nanoTime() - t5; // of the seal: the wait the registers and memory did not hide
                atStop.run(threads, sp); // in the pause, in no phase
                long t6 = System.nanoTime();
                sp.close();
                long resumed = System.nanoTime();
                stats.pausePhases(new double[] {t1 - t0, t2 - t1, t3 - t2 + sealRest, m.collectNanos(), m.presentNanos(), m.copyNanos(), t4 - t3,
                        t5 - t4, resumed - t6});
                held += resumed - t0;
                ByteBuffer pages = memory.pages(m, pre);
                Result r = new Result(new Stopped(resumed, held, threads, open, check.fds(), m, pages, check.mm(), check.mm() == null ? base.dumpMaps() : maps),
                        null, false);
                captured = true;
                return r;
            } finally {
                if (mem != null) {
                    // this thread failed while the memory thread worked on the stopped process: wait for it, and keep
                    // what its collect took from the tracker for the next stop
                    try {
                        memory.uncommitted(Handoff.await(mem));
                    } catch (IOException | RuntimeException e) {
                        ref.resync(true);
                    }
                } else if (taken != null && !captured) {
                    memory.uncommitted(taken); // failed after the memory was taken (the oracle snapshot, say)
                }
                sp.close();
                if (rt) realtime.off();
            }
        }
    }

    /**
     * While the process runs, just before the stop: waits (up to {@link #SETTLE_NANOS}) while it holds an fd the engine
     * cannot capture ({@link FdReader#hasInexpressible}; threads that start and end are captured). A file read and closed is mostly over by then, and
     * checking here costs no stop: a stop that found them would be let go and retried (counted in the pause), and
     * after four retries the epoch would take a CRIU dump. A change that stays is waited on once, then dumped.
     */
    private void settle(Structure base) throws IOException {
        long deadline = System.nanoTime() + SETTLE_NANOS;
        boolean waited = false;
        while (unsettled(base.fds(), ProcFiles.fds(pid))) {
            if (System.nanoTime() - deadline > 0) break;
            waited = true;
            LockSupport.parkNanos(500_000);
        }
        if (waited) stats.settled();
    }

    /** Whether the fd table holds what the stop could not capture: any change at all when fds are not captured. */
    private boolean unsettled(Map<Integer, String> base, Map<Integer, String> now) {
        return fdsCapture ? FdReader.hasInexpressible(base, now) : !base.equals(now);
    }

    /** The structure at a stop compared with the base dump's: why a CRIU dump is needed (or null), and what was read. */
    private record StructureCheck(String why, Structure now, byte[] mm, FdChanges fds) {
    }

    /** Threads, fds, non-anonymous mappings, signal dispositions and cwd against the base; the mm image when only anonymous mappings changed. */
    private StructureCheck checkStructure(Tracer.Stop sp, List<Vma> maps, long mapsNanos, Structure base, Map<String, byte[]> baseFiles)
            throws IOException {
        long[] at = new long[EngineStats.STRUCTURE_PHASES.length];
        at[0] = mapsNanos;
        long t = System.nanoTime();
        if (!sp.threadSetStable()) return new StructureCheck("threads changed", null, null, null);
        String why = ThreadCheck.why(pid, sp, threadModel.get());
        if (why != null) return new StructureCheck(why, null, null, null);
        t = lap(at, 1, t);
        Structure now = Structure.read(pid, sp.tids(), maps);
        why = base.changeTo(now);
        t = lap(at, 2, t);
        FdChanges fds = null;
        if (why == null && !fdsCapture && !base.fds().equals(now.fds())) why = "open files changed";
        if (why == null && fdsCapture) {
            FdReader.Result r = fdReader.read(base.fds(), now.fds());
            stats.fdRead(System.nanoTime() - t);
            why = r.why();
            fds = r.changes();
        }
        t = lap(at, 3, t);
        if (why == null) {
            TcpStreams.Result ts = tcpStreams.read(now.fds(), baseFiles);
            why = ts.why();
            if (why == null) fds = (fds == null ? FdChanges.NONE : fds).withStreams(ts.streams());
        }
        if (why == null && sp.pendingSignals() > 0) why = "signals pending";
        t = lap(at, 4, t);
        byte[] mm = null;
        if (why == null && base.anonymousChanged(now)) {
            try {
                mm = mmPatch.get().patch(maps);
            } catch (IOException e) {
                why = "memory map changed (" + e.getMessage() + ")";
            }
        }
        lap(at, 5, t);
        if (why == null) stats.structurePhases(at);
        return new StructureCheck(why, now, mm, fds);
    }

    /** Records the time since {@code t} as part {@code i} and returns now. */
    private static long lap(long[] at, int i, long t) {
        long now = System.nanoTime();
        at[i] = now - t;
        return now;
    }

    @Override
    public void close() {
        memoryThread.shutdownNow();
        fdReader.close();
        tcpStreams.close();
    }
}
