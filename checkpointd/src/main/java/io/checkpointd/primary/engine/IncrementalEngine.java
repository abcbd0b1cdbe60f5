package io.checkpointd.primary.engine;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.ptrace.Tracer;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.linux.track.Trackers;
import io.checkpointd.primary.engine.dump.BaseDump;
import io.checkpointd.primary.engine.memory.MemoryStage;
import io.checkpointd.primary.engine.patch.ImagePatch;
import io.checkpointd.primary.engine.pause.PauseStage;
import io.checkpointd.primary.engine.pause.Realtime;
import io.checkpointd.primary.engine.ship.BaseCapture;
import io.checkpointd.primary.engine.ship.IncrementalCapture;
import io.checkpointd.primary.engine.ship.Shipper;
import io.checkpointd.primary.engine.state.Base;
import io.checkpointd.primary.engine.state.Reference;
import io.checkpointd.primary.engine.status.EngineStats;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The incremental engine (docs/design/incremental.md): the pause is proportional to what the
 * process wrote, not to its memory.
 *
 * <p>Each epoch runs these stages in order, each returning its result to the next:
 * <ol>
 *   <li>memory, before the stop ({@link MemoryStage#preCopy}): while the process still runs, the tracker reports
 *       the pages written so far (re-protecting them) and they are copied;</li>
 *   <li>the pause ({@link PauseStage}): every thread stopped by the {@link Tracer}, which keeps them seized between
 *       epochs; the structure (threads, fds, memory map, signal dispositions, cwd) compared with the base's (a change
 *       is first waited out), the output sealed, the registers and open files read, while the memory stage collects
 *       the pages written since the pre-copy, rescans presence where pages were removed or written, and copies them
 *       on the pause's second thread;</li>
 *   <li>the base dump ({@link BaseDump}) instead, when the structure changed, on a full sync, or when tracking was
 *       lost: a CRIU dump, the new {@link Base};</li>
 *   <li>after the pause, image patching ({@link ImagePatch}) and shipping ({@link IncrementalCapture},
 *       {@link BaseCapture}): the base's files patched, and the pages whose bytes really changed against what the
 *       backup holds (the {@link Reference}).</li>
 * </ol>
 * The base and the reference are the two states handed from stage to stage; this class holds them between epochs.
 */
public final class IncrementalEngine implements CaptureEngine {
    /** Incremental epochs since the last CRIU dump: the oracle snapshot waits for a few, so it tests patched images. */
    private static final int ORACLE_MIN_SINCE_BASE = 4;

    private final Criu criu;
    private final int pid;
    private final DirtyTracker tracker;
    private final String trackerWhy;
    /** Keeps the threads seized between epochs (attached after the first CRIU dump). */
    private final Tracer tracer;
    private final EngineStats stats = new EngineStats();
    private final Realtime realtime = new Realtime();
    /** Real-time pre-copy ({@link EngineSettings#precopyRealtime()}). */
    private final boolean precopyRealtime = EngineSettings.precopyRealtime();
    private final MemoryStage memory;
    private final PauseStage pauseStage;
    private final BaseDump dump;
    private final ImagePatch patch = new ImagePatch();
    private final Shipper shipper;

    /** What the last CRIU dump gave; null before the first. */
    private Base base;
    /** What the backup holds. */
    private final Reference reference = new Reference();

    private Path oracleRequest;
    private int sinceBase;
    private long oracleEpoch = -1;

    /**
     * Opens the tracker on the running process (uffd-wp injects a userfaultfd: the process must not be frozen).
     *
     * @param trackerKind auto, uffd-wp, soft-dirty or scan
     */
    public IncrementalEngine(Criu criu, int pid, Path work, String trackerKind) throws IOException {
        this.criu = criu;
        this.pid = pid;
        this.tracker = Trackers.open(trackerKind, pid);
        try {
            this.memory = new MemoryStage(pid, tracker, stats);
        } catch (IOException | RuntimeException e) {
            tracker.close();
            throw e;
        }
        this.tracer = Tracer.start(pid, EngineSettings.stopMaxPollMicros() * 1000);
        this.pauseStage = new PauseStage(pid, tracer, memory, patch::mm, patch::threads, realtime, stats);
        this.dump = new BaseDump(criu, pid, work, tracer, tracker, memory, patch, stats);
        this.shipper = new Shipper(reference, stats);
        this.trackerWhy = "auto".equals(trackerKind) ? "auto picked " + Trackers.autoChoice() : "requested";
    }

    /** A NACK or a lost connection: what the backup holds may not be what was shipped; forget the shipped pages. */
    @Override
    public void invalidate() {
        shipper.invalidate();
    }

    @Override
    public String name() {
        return "incremental";
    }

    @Override
    public String tracker() {
        return tracker.name() + " (" + trackerWhy + ")";
    }

    @Override
    public Map<String, Object> stats() {
        return stats.toMap(tracker.counters(), tracer.counters(), base == null ? null : base.notIncremental());
    }

    @Override
    public Capture capture(long n, boolean full, Pause pause) throws IOException, InterruptedException {
        if (full || reference.resync() || base == null || base.notIncremental() != null || !tracer.attached()) {
            String why = base == null ? "first epoch" : full ? "full sync" : reference.resync() ? "tracking resync"
                    : base.notIncremental() != null ? base.notIncremental() : "threads not traced";
            return baseDump(n, full || base == null, pause, why, false);
        }
        PauseStage.Result r = tracer.call(() -> incremental(n, pause));
        if (r.stopped() == null) return baseDump(n, false, pause, r.why(), r.frozen());
        stats.incremental(Ranges.bytes(r.stopped().memory().fromPre()), Ranges.bytes(r.stopped().memory().inPause()));
        if (r.stopped().mm() != null) stats.mmRebuilt();
        memory.reset();
        return new IncrementalCapture(shipper, patch, base, r.stopped());
    }

    /** One incremental epoch up to the resume, on the tracer thread: the pre-copy, then the pause. */
    private PauseStage.Result incremental(long n, Pause pause) throws IOException, InterruptedException {
        long tp = System.nanoTime();
        boolean precopy = memory.precopyDue(); // not after a small epoch: the stop re-protects its few pages
        // real-time too: re-protecting pages while the process runs costs a TLB shootdown each, and at normal
        // priority the pre-copy would spend most of its time waiting for a CPU
        boolean rt = precopy && precopyRealtime && realtime.on();
        long[] pre;
        try {
            pre = memory.preCopy();
        } finally {
            if (rt) realtime.off();
        }
        if (precopy) stats.precopy(System.nanoTime() - tp);
        else stats.precopySkipped();
        long[] carry = memory.carry(pre);
        return pauseStage.run(n, pause, base, reference, pre, carry, (threads, stop) -> {
            sinceBase++;
            if (oracleRequest != null && sinceBase >= ORACLE_MIN_SINCE_BASE) {
                OracleSnapshot.write(pid, oracleRequest); // a test's epoch
                // and CRIU's dump of this very instant for its registers: frozen, untraced for CRIU, traced again
                pause.freeze();
                stop.detach();
                try {
                    OracleSnapshot.dumpWithCriu(criu, pid, oracleRequest, pause.freezer());
                } finally {
                    tracer.attach();
                }
                oracleRequest = null;
                oracleEpoch = n;
            }
        });
    }

    /** A CRIU dump: the new base, shipped whole (its pages compared by hash with what the backup holds). */
    private Capture baseDump(long n, boolean full, Pause pause, String why, boolean frozen) throws IOException, InterruptedException {
        BaseDump.Result d = dump.run(n, pause, why, frozen, base, reference);
        base = d.base();
        sinceBase = 0;
        return new BaseCapture(shipper, base, d.dir(), full, d.resumed(), d.pagemaps(), d.runningNanos());
    }

    /** For the memory oracle test: the next incremental epoch also writes an {@link OracleSnapshot} into {@code dir}. */
    @Override
    public void requestOracleSnapshot(Path dir) {
        if (oracleEpoch < 0) oracleRequest = dir;
    }

    /** The epoch an oracle snapshot was taken at, or -1. */
    @Override
    public long oracleEpoch() {
        return oracleEpoch;
    }

    @Override
    public void close() {
        tracer.close();
        pauseStage.close();
        tracker.close();
        memory.close();
    }
}
