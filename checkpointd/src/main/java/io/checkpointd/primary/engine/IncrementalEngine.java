package io.checkpointd.primary.engine;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFiles;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.ptrace.Tracer;
import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.linux.track.PresentPages;
import io.checkpointd.linux.track.Trackers;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The incremental engine (issue 4, docs/design/incremental.md, option C): the pause is proportional to what the
 * process wrote, not to its memory.
 *
 * <p>Each epoch: while the process still runs, the tracker reports the pages written so far (re-protecting them) and
 * they are copied and scanned for presence (the pre-copy); then every thread is stopped by the {@link Tracer}, which
 * keeps them seized between epochs (interrupt, wait, continue: no freezer, no seize or detach). The structure
 * (threads, fds, memory map, signal dispositions, cwd) is compared with the last CRIU dump's; a change is first
 * waited out (the stop is retried after 1, 4, 16 and 64 ms, nothing sealed meanwhile). Unchanged: the output is sealed, the
 * pages written since the pre-copy are collected and copied, presence is rescanned where pages were removed or
 * written since, every thread's registers, FPU state and signal mask and the open files' positions and sizes are
 * read, and the threads go on. After the pause the epoch's image is the base dump's files with
 * {@code core-<tid>.img} and {@code files.img} patched and {@code pagemap-<pid>.img} rebuilt, plus the copied pages
 * whose bytes really changed. Changed structure, a full sync, or lost tracking: a CRIU dump (the new base; the
 * threads are detached for it, frozen, and seized again before the thaw), whose pages are compared by hash with what
 * the backup already has.
 */
public final class IncrementalEngine implements CaptureEngine {
    private static final Logger log = LoggerFactory.getLogger(IncrementalEngine.class);
    private static final XXHash64 XX = XXHashFactory.fastestInstance().hash64();
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);
    private static final int PAGE = Pagemap.PAGE_SIZE;

    private final Criu criu;
    private final int pid;
    private final Path work;
    private final DirtyTracker tracker;
    private final String trackerWhy;
    /** The process's pagemap, kept open for the pause's presence scans. */
    private final PagemapScan presentScan;
    /** Keeps the threads seized between epochs (attached after the first CRIU dump). */
    private final Tracer tracer;

    // ---- the base: the last CRIU dump, which every incremental epoch patches
    private Map<String, byte[]> baseFiles;
    private String pagemapName;
    private int pagesId;
    /** Why epochs cannot be incremental with this base (a process tree, shared memory), or null. */
    private String notIncremental;
    private Structure baseStructure;
    /** The memory map CRIU recorded (mm.img): pagemap runs are cut at its VMA boundaries. */
    private List<Vma> dumpMaps = List.of();
    private FilesImage filesImage;
    private MmPatch mmPatch;
    private String mmName;
    private boolean armed;
    /** Tracking was consumed by an epoch that never shipped: the next epoch must be a CRIU dump. */
    private boolean resync = true;

    // ---- the reference: what the backup holds after the last shipped epoch
    private final Map<String, byte[]> shipped = new HashMap<>();
    private final Map<String, PageHashes> hashes = new HashMap<>();
    private long[] present = Ranges.EMPTY;
    /** The VMAs {@link #present} was taken in (a dump's or a stop's maps). */
    private java.util.Set<Vma> presentMaps = java.util.Set.of();
    /**
     * Per thread, the base dump's parsed {@code core-<tid>.img} and the last one built from it: most threads of a
     * service sit blocked with the same registers epoch after epoch, and re-encoding ~45 core images per epoch was
     * the largest share of the primary's own CPU at 25 ms epochs. Cleared by every base dump.
     */
    private final Map<Integer, CoreCache> cores = new HashMap<>();

    private record CoreCache(CoreImage base, ThreadState state, byte[] encoded) {
    }

    /** Gaps shorter than this between ranges to rescan are rescanned too (fewer {@code PAGEMAP_SCAN} calls). */
    private static final long RESCAN_BRIDGE = 1L << 20;
    /** Last incremental epoch: bytes of mappings whose present pages were derived (followed) or rescanned. */
    private long followedBytes, rescannedBytes;
    /** XOR compression of incremental epochs' pages against what was shipped; null: off ({@code -Dcheckpointd.xor=false}). */
    private final XorPages xor = XorPages.fromSystemProperties();

    /** The epoch's pages in {@code copy} order, handed to the capture (shipping ends before the next capture). */
    private ByteBuffer staging = ByteBuffer.allocateDirect(8 << 20);
    /** Pages copied before the stop ({@link #preCopy}) and at the stop, gathered into {@link #staging} after it. */
    private ByteBuffer preBuf = ByteBuffer.allocateDirect(8 << 20), pauseBuf = ByteBuffer.allocateDirect(1 << 20);
    /** The arrays shipping batches pages in, kept from epoch to epoch (ship runs on one thread at a time). */
    private final Scratch scratch = new Scratch();
    private boolean preCopied;
    /**
     * This epoch's precollect re-protected every page written before it: the stop's collect then leaves the pages
     * it reports written (the next precollect re-protects them, reporting them again), which keeps a TLB flush
     * per page table out of the pause.
     */
    private boolean reprotectedBeforeStop;
    /**
     * What collects of attempts given up since the last capture took from the tracker (a structure change found
     * while the memory thread collected, a failed seal): pages they reported (re-protected, or reported whole when
     * a range was registered) and removals they took. The next stop counts them as written and removed.
     */
    private long[] uncommittedWritten = Ranges.EMPTY, uncommittedRemoved = Ranges.EMPTY;
    /** The pause's second thread: collect, present and copy while the tracer thread checks the structure and reads registers. */
    private final ExecutorService memoryThread;
    /** Ranges pre-copies re-protected for epochs not captured since (a seal failed): the next epoch counts them written. */
    private long[] carried = Ranges.EMPTY;
    /**
     * Pauses before retrying a stop that found the structure changing (nothing is sealed meanwhile): a file read
     * and closed, a signal about to be taken, a thread about to end are usually over by then. After these, a CRIU
     * dump. A retried stop holds the process ~3-5 ms, a CRIU dump of a 1 GiB JVM 0.5-2 s: on a saturated 2-CPU box
     * a file read of the benchmark's workload outlasted 1 + 4 + 16 ms twice in one run.
     */
    private static final long[] DEFER = {1_000_000L, 4_000_000L, 16_000_000L, 64_000_000L};
    /** Pre-copy before the stop; {@code -Dcheckpointd.precopy=false} turns it off (benchmark comparisons). */
    private static final boolean PRECOPY = Boolean.parseBoolean(System.getProperty("checkpointd.precopy", "true"));
    /** Whether the tracer thread is real-time during the stop already ({@code -Dcheckpointd.stop.realtime}). */
    private static final boolean STOP_REALTIME = Boolean.parseBoolean(System.getProperty("checkpointd.stop.realtime", "true"));
    private static final boolean PRECOPY_REALTIME = Boolean.parseBoolean(System.getProperty("checkpointd.precopy.realtime", "true"));
    private long deferrals, settleWaits, preCopyFailures, precopiedBytes, pauseCopiedBytes;
    private final io.checkpointd.protocol.status.Window precopyMs = new io.checkpointd.protocol.status.Window(1024);
    /** The pre-copy's parts, ms: the precollect (report and re-protect), the copy. */
    private final String[] precopyPhaseNames = {"precollect", "copy"};
    private final io.checkpointd.protocol.status.Window[] precopyPhases = {new io.checkpointd.protocol.status.Window(1024),
            new io.checkpointd.protocol.status.Window(1024)};

    private Path oracleRequest;
    /** Incremental epochs since the last CRIU dump: the oracle snapshot waits for a few, so it tests patched images. */
    private int sinceBase;
    private static final int ORACLE_MIN_SINCE_BASE = 4;
    private long oracleEpoch = -1;

    /**
     * Per-phase time of incremental pauses, ms: where the pause goes (status, benchmark). Tracer thread: stop,
     * structure (maps read, then compared), seal (and the data dirs), registers (and open files), wait (for the
     * memory thread), resume; memory thread, from the end of the stop: collect (its walks need no maps), present, copy.
     */
    private final String[] phaseNames = {"stop", "structure", "seal", "collect", "present", "copy", "registers", "wait", "resume"};
    private final io.checkpointd.protocol.status.Window[] phases = new io.checkpointd.protocol.status.Window[phaseNames.length];

    {
        for (int i = 0; i < phases.length; i++) phases[i] = new io.checkpointd.protocol.status.Window(1024);
    }

    // ---- counters for status
    private long incrementalEpochs, baseDumps;
    private volatile long xorPages, plainPages;
    private final Map<String, Long> dumpReasons = new TreeMap<>();

    /**
     * Opens the tracker on the running process (uffd-wp injects a userfaultfd: the process must not be frozen).
     *
     * @param trackerKind auto, uffd-wp, soft-dirty or scan
     */
    public IncrementalEngine(Criu criu, int pid, Path work, String trackerKind) throws IOException {
        this.criu = criu;
        this.pid = pid;
        this.work = work;
        this.tracker = Trackers.open(trackerKind, pid);
        try {
            this.presentScan = PagemapScan.open(pid);
        } catch (IOException | RuntimeException e) {
            tracker.close();
            throw e;
        }
        this.tracer = Tracer.start(pid);
        this.memoryThread = Executors.newSingleThreadExecutor(r -> {
            // real-time for its whole life: it runs only inside pauses, and woken at normal priority it waited for a
            // CPU 0.28 ms (p50), 2.4 ms (p90) before starting (25 ms epochs, 40 MiB/s)
            Thread t = new Thread(() -> {
                toRealtime();
                r.run();
            }, "pause-memory-" + pid);
            t.setDaemon(true);
            return t;
        });
        this.trackerWhy = "auto".equals(trackerKind) ? "auto picked " + Trackers.autoChoice() : "requested";
    }

    /** A NACK or a lost connection: what the backup holds may not be what was shipped; forget the shipped pages. */
    @Override
    public void invalidate() {
        if (xor != null) xor.invalidate();
    }

    private void dropShippedPages() {
        if (xor != null) xor.forget();
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
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("incrementalEpochs", incrementalEpochs);
        m.put("criuDumps", baseDumps);
        m.put("criuDumpReasons", new TreeMap<>(dumpReasons));
        Map<String, Object> ph = new LinkedHashMap<>();
        for (int i = 0; i < phases.length; i++) ph.put(phaseNames[i], Math.round(phases[i].percentile(0.5) * 1000) / 1000.0);
        m.put("pausePhaseP50Ms", ph);
        // the last incremental epoch's phases, with the count: a poller can take one sample per epoch
        Map<String, Object> last = new LinkedHashMap<>();
        for (int i = 0; i < phases.length; i++) last.put(phaseNames[i], Math.round(phases[i].last() * 1000) / 1000.0);
        m.put("pausePhaseLastMs", last);
        m.put("tracker", tracker.counters());
        m.put("tracer", tracer.counters());
        m.put("precopyP50Ms", Math.round(precopyMs.percentile(0.5) * 1000) / 1000.0);
        Map<String, Object> pre = new LinkedHashMap<>();
        for (int i = 0; i < precopyPhases.length; i++) pre.put(precopyPhaseNames[i], Math.round(precopyPhases[i].percentile(0.5) * 1000) / 1000.0);
        m.put("precopyPhaseP50Ms", pre);
        m.put("precopiedBytes", precopiedBytes);
        m.put("pauseCopiedBytes", pauseCopiedBytes);
        m.put("preCopyFailures", preCopyFailures);
        m.put("deferredStops", deferrals);
        m.put("settledStops", settleWaits);
        m.put("presentFollowedBytes", followedBytes);
        m.put("presentRescannedBytes", rescannedBytes);
        m.put("xorPages", xorPages);
        m.put("plainPages", plainPages);
        if (notIncremental != null) m.put("notIncremental", notIncremental);
        return m;
    }

    @Override
    public Capture capture(long n, boolean full, Pause pause) throws IOException, InterruptedException {
        if (full || resync || baseFiles == null || notIncremental != null || !tracer.attached()) {
            String why = baseFiles == null ? "first epoch" : full ? "full sync" : resync ? "tracking resync"
                    : notIncremental != null ? notIncremental : "threads not traced";
            return base(n, full || baseFiles == null, pause, why, false);
        }
        Incremental r = tracer.call(() -> incremental(n, pause));
        return r.capture != null ? r.capture : base(n, false, pause, r.why, r.frozen);
    }

    /** What an incremental attempt came to: a capture, or why a CRIU dump is needed (and whether it left the process frozen, untraced). */
    private record Incremental(Capture capture, String why, boolean frozen) {
    }

    /** One incremental epoch, on the tracer thread. */
    private Incremental incremental(long n, Pause pause) throws IOException, InterruptedException {
        long tp = System.nanoTime();
        // real-time too: while the process runs, re-protecting its pages costs a TLB shootdown each, and at normal
        // priority the pre-copy waited for a CPU most of its time (25 ms epochs, 40 MiB/s: precollect p50 25 -> 10.8 ms)
        boolean rt = PRECOPY_REALTIME && toRealtime();
        long[] pre;
        try {
            pre = preCopy();
        } finally {
            if (rt) realtime(0);
        }
        precopyMs.add((System.nanoTime() - tp) / 1e6);
        // what earlier pre-copies re-protected for epochs that were then skipped (a seal failed): written still
        long[] carry = carried;
        carried = Ranges.union(carried, pre);
        settle();
        long held = 0;
        for (int attempt = 0; ; attempt++) {
            long t0 = System.nanoTime();
            // real-time from the stop on: between its polls for the threads' ptrace-stops the tracer thread sleeps,
            // and at normal priority it then waited for a CPU behind the very threads it stopped (up to a 4 ms tick)
            boolean realtime = STOP_REALTIME && toRealtime();
            Tracer.Stop sp;
            try {
                sp = tracer.stopAll(STOP_TIMEOUT);
            } catch (IOException e) {
                if (realtime) realtime(0);
                // stopAll leaves every thread running: take a CRIU dump instead
                log.warn("epoch {}: stopping the threads failed ({}): taking a CRIU dump", n, e.getMessage());
                return new Incremental(null, "threads could not be stopped", false);
            } catch (RuntimeException | Error e) {
                if (realtime) realtime(0);
                throw e;
            }
            if (!STOP_REALTIME) realtime = toRealtime();
            Future<MemoryCapture> memory = null;
            MemoryCapture taken = null;
            boolean captured = false;
            try {
                long t1 = System.nanoTime();
                // the memory (collect, present, copy) on the pause's second thread, while this one checks the
                // structure, seals and reads the registers: on two CPUs the pause is the longer of the two. Started
                // before the maps are read: the tracker's walks do not need them, the rest waits for them, spinning.
                CompletableFuture<List<Vma>> mapsRead = new CompletableFuture<>();
                memory = memoryThread.submit(() -> captureMemory(() -> spinJoin(mapsRead, HANDOFF_SPIN_NANOS), pre, carry));
                List<Vma> maps;
                try {
                    maps = ProcFs.maps(pid);
                } catch (IOException | RuntimeException e) {
                    mapsRead.completeExceptionally(e);
                    throw e;
                }
                mapsRead.complete(maps);
                StructureCheck check = checkStructure(sp, maps);
                long t2 = System.nanoTime();
                if (check.why() != null) {
                    // what the memory thread's collect took from the tracker (pages reported whole or re-protected,
                    // removals) counts again at the next stop, this epoch's or a later one
                    MemoryCapture lost = await(memory);
                    memory = null;
                    uncommitted(lost);
                    if (attempt < DEFER.length) {
                        // often over in a moment (a file read and closed, a signal about to be taken, a short-lived
                        // thread): let the process run briefly and stop it again; nothing was sealed, the epoch's
                        // instant just moves, and a CRIU dump (~1 s on a 1 GiB heap) is saved
                        sp.close();
                        held += System.nanoTime() - t0;
                        deferrals++;
                        LockSupport.parkNanos(DEFER[attempt]);
                        continue;
                    }
                    // frozen before the threads are let go (stopped threads count as frozen; detached, they enter
                    // the freezer before running any code), so the CRIU dump sees this very instant, untraced
                    pause.freeze();
                    sp.detach();
                    return new Incremental(null, check.why(), true);
                }
                pause.seal();
                pause.atCapture();
                long t3 = System.nanoTime();
                List<ThreadState> threads = sp.capture();
                Map<Integer, OpenFiles.Open> open = OpenFiles.read(pid, check.now().fds());
                long t4 = System.nanoTime();
                MemoryCapture m;
                try {
                    m = await(spinUntilDone(memory, JOIN_SPIN_NANOS));
                } catch (IOException | RuntimeException e) {
                    resync = true; // what its collect took from the tracker is gone with it
                    throw e;
                } finally {
                    memory = null;
                }
                long t5 = System.nanoTime();
                taken = m;
                pauseBuf = m.buf();
                sinceBase++;
                if (oracleRequest != null && sinceBase >= ORACLE_MIN_SINCE_BASE) {
                    OracleSnapshot.write(pid, oracleRequest); // a test's epoch: in the pause, in no phase
                    // and CRIU's dump of this very instant for its registers: frozen, untraced for CRIU, traced again
                    pause.freeze();
                    sp.detach();
                    try {
                        OracleSnapshot.dumpWithCriu(criu, pid, oracleRequest, pause.freezer());
                    } finally {
                        tracer.attach();
                    }
                    oracleRequest = null;
                    oracleEpoch = n;
                }
                long t6 = System.nanoTime();
                sp.close();
                long resumed = System.nanoTime();
                double[] ph = {t1 - t0, t2 - t1, t3 - t2, m.collectNanos(), m.presentNanos(), m.copyNanos(), t4 - t3, t5 - t4, resumed - t6};
                for (int i = 0; i < phases.length; i++) phases[i].add(ph[i] / 1e6);
                held += resumed - t0;
                staging = Ranges.gather(m.copy(), pre, preBuf, m.inPause(), m.buf(), staging);
                incrementalEpochs++;
                precopiedBytes = Ranges.bytes(m.fromPre());
                pauseCopiedBytes = Ranges.bytes(m.inPause());
                Incremental r = new Incremental(new IncrementalCapture(resumed, held, threads, open, m.nowPresent(), m.copy(), staging,
                        check.mm(), check.mm() == null ? dumpMaps : maps), null, false);
                carried = Ranges.EMPTY;
                uncommittedWritten = uncommittedRemoved = Ranges.EMPTY;
                captured = true;
                return r;
            } finally {
                if (memory != null) {
                    // this thread failed while the memory thread worked on the stopped process: wait for it, and keep
                    // what its collect took from the tracker for the next stop
                    try {
                        uncommitted(await(memory));
                    } catch (IOException | RuntimeException e) {
                        resync = true;
                    }
                } else if (taken != null && !captured) {
                    uncommitted(taken); // failed after the memory was taken (the oracle snapshot, say)
                }
                sp.close();
                if (realtime) realtime(0);
            }
        }
    }

    /** The longest {@link #settle} waits before stopping the process anyway. */
    private static final long SETTLE_NANOS = 10_000_000L;

    /**
     * While the process runs, just before the stop: waits (up to {@link #SETTLE_NANOS}) while its threads or open files
     * differ from the base dump's. A file read and closed, a thread that starts and ends are mostly over by then, and
     * checking here costs no stop: a stop that found them would be let go and retried (counted in the pause), and
     * after four retries the epoch would take a CRIU dump. A change that stays is waited on once, then dumped.
     */
    private void settle() throws IOException {
        long deadline = System.nanoTime() + SETTLE_NANOS;
        boolean waited = false;
        while (!ProcFs.threads(pid).equals(baseStructure.tids()) || !ProcFiles.fds(pid).equals(baseStructure.fds())) {
            if (System.nanoTime() - deadline > 0) break;
            waited = true;
            LockSupport.parkNanos(500_000);
        }
        if (waited) settleWaits++;
    }

    /** The structure at a stop compared with the base dump's: why a CRIU dump is needed (or null), and what was read. */
    private record StructureCheck(String why, Structure now, byte[] mm) {
    }

    /** Threads, fds, non-anonymous mappings, signal dispositions and cwd against the base; the mm image when only anonymous mappings changed. */
    private StructureCheck checkStructure(Tracer.Stop sp, List<Vma> maps) throws IOException {
        if (!sp.threadSetStable()) return new StructureCheck("threads changed", null, null);
        Structure now = Structure.read(pid, sp.tids(), maps);
        String why = baseStructure.changeTo(now);
        if (why == null && sp.pendingSignals() > 0) why = "signals pending";
        byte[] mm = null;
        if (why == null && baseStructure.anonymousChanged(now)) {
            try {
                mm = mmPatch.patch(maps);
            } catch (IOException e) {
                why = "memory map changed (" + e.getMessage() + ")";
            }
        }
        return new StructureCheck(why, now, mm);
    }

    /**
     * The memory of one stop, on the memory thread: what the collect reported and removed (kept if the attempt is
     * given up), the present pages, the pages to copy (from the pre-copy, and copied in the pause into {@code buf}),
     * and the time of each part.
     */
    private record MemoryCapture(long[] collected, long[] removed, long[] nowPresent, long[] copy, long[] fromPre, long[] inPause,
                                 ByteBuffer buf, long collectNanos, long presentNanos, long copyNanos) {
    }

    private MemoryCapture captureMemory(DirtyTracker.MapsSource mapsRead, long[] pre, long[] carry) throws IOException {
        long t0 = System.nanoTime();
        // after a precollect the stop only reports: the next precollect re-protects them while the process runs.
        // The tracker begins while the tracer thread reads the maps (uffd-wp's walks need only what it tracked)
        long[] collected = Ranges.of(tracker.collect(mapsRead, !reprotectedBeforeStop));
        List<Vma> maps = mapsRead.get();
        DirtyTracker.Followed f = tracker.followed();
        long[] removed = f == null ? Ranges.EMPTY : Ranges.of(f.removed());
        // carried pages not pre-copied again are copied, and rescanned for presence, at the stop; so is what
        // attempts given up since the last capture collected (written after the pre-copy, or re-protected)
        long[] unsure = Ranges.union(uncommittedWritten, Ranges.subtract(carry, pre));
        long[] atStop = Ranges.union(collected, unsure);
        long[] written = Ranges.union(pre, atStop);
        long t1 = System.nanoTime();
        // pages come and go without a structural change only in writable and in anonymous mappings (a write,
        // MADV_DONTNEED, an anonymous mapping replaced or made PROT_NONE): rescan those; the base dump's pages
        // of read-only file mappings and of [vdso] (CRIU's restorer checks its ELF header) stay as dumped
        java.util.function.Predicate<Vma> rescan = v -> v.isWritable() || Structure.isAnonymousPrivate(v);
        long[] kept = Ranges.ofVmas(maps, v -> v.isPrivate() && !rescan.test(v) && (!v.isSpecial() || v.path().equals("[vdso]")));
        long[] nowPresent = Ranges.union(presentIn(maps, rescan, Ranges.union(pre, collected), unsure,
                Ranges.union(removed, uncommittedRemoved)), Ranges.intersect(present, kept));
        long[] copy = Ranges.union(Ranges.intersect(written, nowPresent), Ranges.subtract(nowPresent, present));
        // pre-copied pages not written again since keep the bytes copied before the stop
        long[] fromPre = preCopied ? Ranges.intersect(copy, Ranges.subtract(pre, atStop)) : Ranges.EMPTY;
        long[] inPause = Ranges.subtract(copy, fromPre);
        long t2 = System.nanoTime();
        ByteBuffer buf = copyPages(inPause, pauseBuf);
        return new MemoryCapture(collected, removed, nowPresent, copy, fromPre, inPause, buf, t1 - t0, t2 - t1, System.nanoTime() - t2);
    }

    /** An attempt given up after its collect: what the collect took from the tracker counts at the next stop. */
    private void uncommitted(MemoryCapture m) {
        uncommittedWritten = Ranges.union(uncommittedWritten, m.collected());
        uncommittedRemoved = Ranges.union(uncommittedRemoved, m.removed());
    }

    /**
     * How long one pause thread spins for the other before it blocks: waking a blocked thread costs ~0.2 ms on this
     * project's machines (a real-time thread woken on an idle vCPU), a tenth of the pause aimed at. Both threads run
     * real-time on CPUs of their own during the pause; with one CPU they would spin against each other, so not at all.
     */
    private static final boolean SPIN = Runtime.getRuntime().availableProcessors() > 1 && Boolean.parseBoolean(System.getProperty("checkpointd.pause.spin", "true"));
    private static final long HANDOFF_SPIN_NANOS = SPIN ? Long.getLong("checkpointd.pause.spin.handoff", 200_000) : 0,
            JOIN_SPIN_NANOS = SPIN ? Long.getLong("checkpointd.pause.spin.join", 3_000_000) : 0;

    /** {@code f}'s value, spinning up to {@code maxNanos} before blocking. */
    private static <T> T spinJoin(CompletableFuture<T> f, long maxNanos) throws IOException {
        return await(spinUntilDone(f, maxNanos));
    }

    private static <F extends Future<?>> F spinUntilDone(F f, long maxNanos) {
        for (long end = System.nanoTime() + maxNanos; !f.isDone() && System.nanoTime() - end < 0; ) Thread.onSpinWait();
        return f;
    }

    /**
     * The memory thread's result. Waits through interrupts (it works on the stopped process, which must not run
     * before it is done; the interrupt is kept); its failure is rethrown here.
     */
    private static <T> T await(Future<T> f) throws IOException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof IOException io) throw io;
                    if (c instanceof RuntimeException r) throw r;
                    if (c instanceof Error err) throw err;
                    throw new IOException(c);
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /**
     * SCHED_FIFO priority of the tracer thread from the stop to the resume ({@code -Dcheckpointd.pause.realtime=N},
     * 0: off): the pause's work then does not wait behind other runnable threads, and the threads continued at the
     * end do not take the tracer's CPU before it continued them all (resume p50 0.63 → 0.29 ms for 44 threads,
     * docs/design/incremental.md). From the stop's start ({@code -Dcheckpointd.stop.realtime}, the default): between
     * its polls for the ptrace-stops the tracer thread sleeps, and at normal priority it then waited for a CPU behind
     * the threads it stopped.
     */
    private static final int REALTIME = Integer.getInteger("checkpointd.pause.realtime", 10);

    /** The calling thread real-time at {@link #REALTIME} unless that is off or was refused; whether it is now. */
    private boolean toRealtime() {
        return REALTIME > 0 && !realtimeRefused && realtime(REALTIME);
    }

    /** Sets the calling thread's real-time priority; false when the kernel refuses (logged; not asked again). */
    private boolean realtime(int priority) {
        try {
            io.checkpointd.linux.Syscalls.setRealtime(priority);
            return true;
        } catch (SyscallException e) {
            if (!realtimeRefused) log.warn("pauses run at normal priority: {}", e.getMessage());
            realtimeRefused = true;
            return false;
        }
    }

    private volatile boolean realtimeRefused;

    /**
     * While the process runs: the pages the tracker can report before the stop (uffd-wp), re-protected, copied
     * into {@link #preBuf}; the stop then copies only what was written again since. Empty when the tracker cannot;
     * when the copy fails (a range unmapped meanwhile) {@link #preCopied} is false and the stop copies them all.
     */
    private long[] preCopy() throws IOException {
        preCopied = false;
        reprotectedBeforeStop = false;
        if (!PRECOPY) return Ranges.EMPTY;
        long t0 = System.nanoTime();
        List<ProcessMemory.RemoteRange> w = tracker.precollect();
        reprotectedBeforeStop = w != null;
        if (w == null || w.isEmpty()) return Ranges.EMPTY;
        long[] pre = Ranges.of(w);
        long t1 = System.nanoTime();
        try {
            preBuf = copyPages(pre, preBuf);
            preCopied = true;
            precopyPhases[0].add((t1 - t0) / 1e6);
            precopyPhases[1].add((System.nanoTime() - t1) / 1e6);
        } catch (IOException e) {
            // re-protected already: the pages stay in the written set, they are just all copied at the stop
            log.debug("pre-copy of pid {} failed ({}): copying at the stop", pid, e.getMessage());
            preCopyFailures++;
        }
        return pre;
    }

    /**
     * The present pages of the VMAs {@code rescan} accepts. Where the tracker followed them since the last epoch,
     * derived: a page there appears only by a fault, which the tracker reports as a write (a read in a hole maps
     * the zero page or a page-cache page unprotected; it is then counted present and its bytes, the same a
     * restore would read, are shipped), and goes only by a removal the tracker heard of ({@code MADV_DONTNEED},
     * {@code MADV_FREE}; the uffd-wp bit of a swapped page survives). So the pages {@code written} this epoch, by
     * the pre-copy's report or the stop's, are present, and only the removed ranges and the {@code unsure} ones
     * (written in attempts given up or epochs skipped, whose removals may have been consumed since) are rescanned;
     * the rest keeps the last epoch's pages. Elsewhere (a tracker that follows nothing, or ranges registered since)
     * everything is rescanned.
     */
    private long[] presentIn(List<Vma> maps, java.util.function.Predicate<Vma> rescan, long[] written, long[] unsure, long[] removed)
            throws IOException {
        DirtyTracker.Followed f = tracker.followed();
        if (f == null) return Ranges.of(PresentPages.of(pid, maps, rescan));
        long[] domain = Ranges.ofVmas(maps, v -> v.isPrivate() && !v.isSpecial() && rescan.test(v));
        long[] followed = Ranges.intersect(Ranges.of(f.ranges()), domain);
        // bridged: one PAGEMAP_SCAN call costs about as much as walking ~1000 page table entries, and thousands of
        // scattered removed pages would otherwise be thousands of calls (55 ms at 7,000 pages); rescanning more is
        // still exact
        long[] changed = Ranges.intersect(Ranges.bridge(Ranges.union(removed, unsure), RESCAN_BRIDGE), followed);
        // not followed: rescanned, except a VMA that cannot gain a page (not writable, mapped as it was when the
        // last epoch's pages were taken: a read maps only the zero page there, or faults; a write forced through
        // /proc/PID/mem by a debugger would go unseen) and had none then. The JVM's reservations (PROT_NONE, ~90 of
        // them, 2.2 GB) are that: one PAGEMAP_SCAN call each, 0.3-0.5 ms
        long[] quiet = Ranges.ofVmas(maps, v -> !v.isWritable() && presentMaps.contains(v) && !Ranges.overlaps(present, v.start(), v.end()));
        long[] scanIn = Ranges.union(Ranges.subtract(Ranges.subtract(domain, followed), quiet), changed);
        long[] scanned = scanIn.length == 0 ? Ranges.EMPTY : Ranges.of(PresentPages.within(presentScan, pid, maps, Ranges.toRemote(scanIn)));
        followedBytes = Ranges.bytes(followed);
        rescannedBytes = Ranges.bytes(scanIn);
        long[] before = Ranges.union(present, written);
        return Ranges.union(Ranges.subtract(Ranges.intersect(before, followed), scanIn), scanned);
    }

    /** {@code core-<tid>.img} of the base dump with {@code t}'s registers, FPU state and signal mask. */
    private byte[] coreImage(ThreadState t) throws IOException {
        CoreCache c = cores.get(t.tid());
        if (c != null && c.state().sigmask() == t.sigmask() && java.util.Arrays.equals(c.state().gpregs(), t.gpregs())
                && java.util.Arrays.equals(c.state().xstate(), t.xstate())) {
            return c.encoded();
        }
        CoreImage base = c != null ? c.base() : null;
        if (base == null) {
            byte[] b = baseFiles.get("core-" + t.tid() + ".img");
            if (b == null) throw new IOException("no core-" + t.tid() + ".img in the base dump");
            base = CoreImage.parse(b);
        }
        byte[] encoded = base.withThreadState(t.gpregs(), t.xstate(), t.sigmask()).encode();
        cores.put(t.tid(), new CoreCache(base, t, encoded));
        return encoded;
    }

    /** Copies {@code copy} out of the process into {@code buf} (replaced by a larger one as needed), flipped. */
    private ByteBuffer copyPages(long[] copy, ByteBuffer buf) throws IOException {
        long bytes = Ranges.bytes(copy);
        if (bytes > Integer.MAX_VALUE - PAGE) throw new IOException("epoch wrote " + bytes + " bytes: too much for one staging buffer");
        ByteBuffer staging = buf.capacity() >= bytes ? buf : ByteBuffer.allocateDirect((int) Math.max(bytes, buf.capacity() * 2L));
        staging.clear();
        List<ProcessMemory.RemoteRange> ranges = Ranges.toRemote(copy);
        long got;
        try {
            got = ProcessMemory.read(pid, ranges, staging);
        } catch (SyscallException e) {
            got = -1;
        }
        if (got != bytes) {
            // a page the process cannot read itself (PROT_NONE): /proc/PID/mem reads through the protection
            staging.clear();
            try (FileChannel mem = FileChannel.open(ProcFs.dir(pid).resolve("mem"), StandardOpenOption.READ)) {
                for (ProcessMemory.RemoteRange r : ranges) {
                    ByteBuffer dst = staging.slice(staging.position(), (int) r.length());
                    long pos = r.address();
                    while (dst.hasRemaining()) {
                        int k = mem.read(dst, pos);
                        if (k <= 0) throw new IOException("cannot read page 0x" + Long.toHexString(pos) + " of pid " + pid);
                        pos += k;
                    }
                    staging.position(staging.position() + (int) r.length());
                }
            }
        }
        staging.position((int) bytes);
        staging.flip();
        return staging;
    }

    /**
     * A CRIU dump, the new base. The process is frozen and untraced for CRIU (first stopped by the tracer if it traces
     * them, unless {@code frozen}: the caller did that already); tracking is re-armed just before the dump; afterwards
     * the tracer seizes the threads again while the cgroup is still frozen, then the process runs again.
     */
    private Capture base(long n, boolean full, Pause pause, String why, boolean frozen) throws IOException, InterruptedException {
        Freezer freezer = pause.freezer();
        Path dir = work.resolve("base-" + n);
        ImageDirs.deleteTree(dir);
        Files.createDirectories(dir);
        List<Vma> atDump;
        Structure s;
        resync = true;
        try {
            if (!frozen) {
                if (tracer.attached()) {
                    tracer.call(() -> {
                        Tracer.Stop sp = tracer.stopAll(STOP_TIMEOUT);
                        try {
                            pause.freeze();
                        } catch (IOException | RuntimeException e) {
                            sp.close();
                            throw e;
                        }
                        sp.detach();
                        return null;
                    });
                } else {
                    pause.freeze();
                }
            }
            pause.seal();
            // re-armed before the dump, not after: CRIU's parasite runs on the threads' stacks and leaves bytes below
            // their stack pointers; pages it writes after reading them must count as written in the next epoch
            List<Vma> before = ProcFs.maps(pid);
            if (!armed) {
                tracker.arm(before);
                armed = true;
            } else {
                tracker.collect(before); // everything written so far is in the dump
            }
            carried = Ranges.EMPTY; // so is what earlier pre-copies re-protected
            uncommittedWritten = uncommittedRemoved = Ranges.EMPTY; // and what attempts given up collected
            Dumps.dump(criu, pid, dir, freezer);
            pause.atCapture();
            atDump = ProcFs.maps(pid);
            s = Structure.read(pid, ProcFs.threads(pid), atDump);
        } catch (IOException | RuntimeException e) {
            ImageDirs.deleteTree(dir);
            throw e;
        } finally {
            traceAgain(freezer);
            freezer.thaw();
        }
        long resumed = System.nanoTime();
        Map<String, byte[]> files = new TreeMap<>();
        List<String> pagemaps = new ArrayList<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : (Iterable<Path>) list::iterator) {
                String name = p.getFileName().toString();
                if (!DeltaComputer.isImageFile(name) || Pagemap.isPagesName(name)) continue;
                files.put(name, Files.readAllBytes(p));
                if (Pagemap.isPagemapName(name)) pagemaps.add(name);
            }
        }
        String own = "pagemap-" + pid + ".img";
        baseFiles = files;
        cores.clear();
        baseStructure = s;
        dumpMaps = atDump;
        mmName = "mm-" + pid + ".img";
        if (pagemaps.size() == 1 && files.containsKey("core-" + pid + ".img") && files.containsKey(mmName) && Pagemap.isPagemapName(pagemaps.get(0))
                && !pagemaps.get(0).startsWith("pagemap-shmem")) {
            pagemapName = pagemaps.get(0);
            pagesId = Pagemap.parse(files.get(pagemapName)).pagesId();
            mmPatch = new MmPatch(MmImage.parse(files.get(mmName)));
            notIncremental = null;
        } else {
            if (notIncremental == null) {
                log.warn("pid {}: every epoch takes a CRIU dump: the image has {} (a process tree or shared memory), the incremental engine handles one process ({} expected)",
                        pid, pagemaps, own);
            }
            notIncremental = "process tree or shared memory";
        }
        if (notIncremental == null) {
            // a tracker that compares contents (scan) compares the next stop with the dump's bytes (read if it asks)
            Pagemap pm = Pagemap.parse(files.get(pagemapName));
            Path pagesFile = dir.resolve(pm.pagesFileName());
            tracker.dumped(sink -> {
                if (pm.presentPages() == 0) return;
                try (DeltaComputer.PagesFile data = DeltaComputer.PagesFile.map(pagesFile)) {
                    pm.forEachPresentPage((va, idx) -> sink.page(va, data.page(idx)));
                }
            });
        }
        filesImage = FilesImage.of(files);
        sinceBase = 0;
        resync = false;
        baseDumps++;
        dumpReasons.merge(Structure.kind(why), 1L, Long::sum);
        log.info("epoch {}: CRIU dump ({})", n, why);
        return new BaseCapture(dir, full, resumed, files, pagemaps);
    }

    /** Seizes the threads again after a CRIU dump, while the cgroup is still frozen; a failure makes the next epoch a dump too. */
    private void traceAgain(Freezer freezer) {
        try {
            if (!freezer.isFrozen()) return; // the freeze failed before anything was detached
            tracer.call(() -> {
                tracer.attach();
                return null;
            });
        } catch (IOException | RuntimeException e) {
            log.warn("pid {}: cannot trace the threads again ({}): the next epoch takes a CRIU dump", pid, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Emits changed (or, full, all) files; remembers them as shipped. */
    private int shipFiles(Map<String, byte[]> files, boolean full, RecordSink sink, long[] fileBytes) throws IOException {
        int records = 0;
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            byte[] old = shipped.get(e.getKey());
            if (!full && old != null && java.util.Arrays.equals(old, e.getValue())) continue;
            records += DeltaComputer.emitFile(e.getKey(), e.getValue(), sink::accept);
            fileBytes[0] += e.getValue().length;
        }
        for (String name : new ArrayList<>(shipped.keySet())) {
            if (!files.containsKey(name)) {
                if (!full) {
                    sink.accept(new EpochRecord.FileDelete(name));
                    records++;
                }
                shipped.remove(name);
                hashes.remove(name);
            }
        }
        shipped.putAll(files);
        return records;
    }

    private byte[] pagemapOf(long[] runs) {
        List<Pagemap.Run> rs = new ArrayList<>(runs.length / 2);
        for (int i = 0; i < runs.length; i += 2) rs.add(new Pagemap.Run(runs[i], (runs[i + 1] - runs[i]) / PAGE, Pagemap.PE_PRESENT, -1));
        return Pagemap.of(pagesId, rs).encode();
    }

    private static long hash(ByteBuffer page) {
        return XX.hash(page, page.position(), PAGE, 0x5EED);
    }

    /**
     * Accumulates pages into records of at most {@link EpochRecord#MAX_PAGES}, in arrays that grow with the pages
     * added, kept from one epoch to the next ({@link Scratch}); a record takes a copy of what it holds, or the
     * arrays themselves when full. Allocating the largest record's 4 MiB per batch and copying it out at the flush
     * made most of the primary's garbage (2.4 of 3.1 GB in a 200-epoch probe at 25 ms).
     */
    private static final class Batch {
        final String pagemap;
        final RecordSink sink;
        final Scratch scratch;
        int n;
        long pages;
        int records;

        Batch(String pagemap, RecordSink sink, Scratch scratch) {
            this.pagemap = pagemap;
            this.sink = sink;
            this.scratch = scratch;
        }

        void add(long vaddr, ByteBuffer page) throws IOException {
            if (n == scratch.vaddrs.length) scratch.grow();
            scratch.vaddrs[n] = vaddr;
            page.get(page.position(), scratch.data, n * PAGE, PAGE);
            n++;
            pages++;
            if (n == EpochRecord.MAX_PAGES) flush();
        }

        /** Always one record per pagemap, even empty: the backup rebuilds a pagemap whose layout changed. */
        void flush() throws IOException {
            if (n == 0 && records > 0) return;
            if (n == scratch.vaddrs.length) {
                sink.accept(new EpochRecord.PageDelta(pagemap, scratch.vaddrs, scratch.data));
                scratch.handedOver();
            } else {
                sink.accept(new EpochRecord.PageDelta(pagemap, java.util.Arrays.copyOf(scratch.vaddrs, n),
                        java.util.Arrays.copyOf(scratch.data, n * PAGE)));
            }
            records++;
            n = 0;
        }
    }

    /** A {@link Batch}'s arrays; one batch at a time uses them. */
    private static final class Scratch {
        private static final int FIRST = 64;
        long[] vaddrs = new long[FIRST];
        byte[] data = new byte[FIRST * PAGE];

        void grow() {
            int more = Math.min(vaddrs.length * 2, EpochRecord.MAX_PAGES);
            vaddrs = java.util.Arrays.copyOf(vaddrs, more);
            data = java.util.Arrays.copyOf(data, more * PAGE);
        }

        /** A record took the arrays: new ones of the same size (a full record is likely followed by another). */
        void handedOver() {
            vaddrs = new long[vaddrs.length];
            data = new byte[data.length];
        }
    }

    /** An epoch taken by CRIU: its files whole, its pages compared by hash with what the backup holds. */
    private final class BaseCapture implements Capture {
        private final Path dir;
        private final boolean full;
        private final long resumed;
        private final Map<String, byte[]> files;
        private final List<String> pagemaps;

        BaseCapture(Path dir, boolean full, long resumed, Map<String, byte[]> files, List<String> pagemaps) {
            this.dir = dir;
            this.full = full;
            this.resumed = resumed;
            this.files = files;
            this.pagemaps = pagemaps;
        }

        @Override
        public boolean full() {
            return full;
        }

        @Override
        public long resumedAtNanos() {
            return resumed;
        }

        @Override
        public long capturedBytes() {
            return FullDumpEngine.dirBytes(dir);
        }

        @Override
        public Delta ship(RecordSink sink) throws IOException {
            try {
                if (full) {
                    shipped.clear();
                    hashes.clear();
                }
                // ships plain; the pages it ships (of the pagemap incremental epochs patch) seed the XOR cache afresh
                dropShippedPages();
                XorPages seed = notIncremental == null ? xor : null;
                long[] fileBytes = {0};
                int records = shipFiles(files, full, sink, fileBytes);
                Map<String, Long> manifest = new TreeMap<>();
                files.forEach((k, v) -> manifest.put(k, (long) v.length));
                long changed = 0;
                for (String name : pagemaps) {
                    Pagemap pm = Pagemap.parse(files.get(name));
                    manifest.put(pm.pagesFileName(), pm.presentPages() * PAGE);
                    PageHashes old = full ? null : hashes.get(name);
                    PageHashes fresh = new PageHashes((int) Math.min(1 << 24, pm.presentPages()));
                    Batch batch = new Batch(name, sink, scratch);
                    Path pagesFile = dir.resolve(pm.pagesFileName());
                    if (pm.presentPages() > 0) {
                        try (DeltaComputer.PagesFile data = DeltaComputer.PagesFile.map(pagesFile)) {
                            pm.forEachPresentPage((vaddr, idx) -> {
                                ByteBuffer page = data.page(idx);
                                long h = hash(page);
                                fresh.changed(vaddr, h);
                                if (old == null || old.changed(vaddr, h)) {
                                    batch.add(vaddr, page);
                                    if (seed != null && name.equals(pagemapName)) seed.seed(vaddr, page); // copies it
                                }
                            });
                        }
                    }
                    batch.flush();
                    records += batch.records;
                    changed += batch.pages;
                    hashes.put(name, fresh);
                    if (name.equals(pagemapName)) {
                        List<ProcessMemory.RemoteRange> rs = new ArrayList<>();
                        for (Pagemap.Run r : pm.runs()) if (r.present()) rs.add(new ProcessMemory.RemoteRange(r.vaddr(), r.nrPages() * PAGE));
                        present = Ranges.of(rs);
                        presentMaps = java.util.Set.copyOf(dumpMaps);
                    }
                }
                return new Delta(manifest, records, changed, fileBytes[0]);
            } catch (IOException | RuntimeException e) {
                resync = true;
                dropShippedPages();
                throw e;
            } finally {
                discard();
            }
        }

        @Override
        public void discard() {
            try {
                ImageDirs.deleteTree(dir);
            } catch (IOException e) {
                log.warn("removing {}: {}", dir, e.getMessage());
            }
        }
    }

    /** An epoch the engine took itself: the base's files patched, the copied pages. */
    private final class IncrementalCapture implements Capture {
        private final long resumed;
        /** Time the process was held (stops retried count too, the time it ran in between does not). */
        private final long held;
        private final List<ThreadState> threads;
        private final Map<Integer, OpenFiles.Open> open;
        private final long[] nowPresent;
        private final long[] copied;
        private final ByteBuffer data;
        /** The rebuilt mm image when anonymous mappings changed, else null; the VMA list pagemap runs are cut at. */
        private final byte[] mm;
        private final List<Vma> vmas;

        IncrementalCapture(long resumed, long held, List<ThreadState> threads, Map<Integer, OpenFiles.Open> open, long[] nowPresent,
                           long[] copied, ByteBuffer data, byte[] mm, List<Vma> vmas) {
            this.held = held;
            this.mm = mm;
            this.vmas = vmas;
            this.resumed = resumed;
            this.threads = threads;
            this.open = open;
            this.nowPresent = nowPresent;
            this.copied = copied;
            this.data = data;
        }

        @Override
        public boolean full() {
            return false;
        }

        @Override
        public long resumedAtNanos() {
            return resumed;
        }

        @Override
        public long pausedNanos(long startNanos) {
            // only the time held: the hand-over to the tracer thread and the pre-copy ran with the process running
            return held;
        }

        @Override
        public long capturedBytes() {
            return data.remaining();
        }

        @Override
        public Delta ship(RecordSink sink) throws IOException {
            try {
                Map<String, byte[]> files = new TreeMap<>(baseFiles);
                for (ThreadState t : threads) files.put("core-" + t.tid() + ".img", coreImage(t));
                files.put(pagemapName, pagemapOf(Ranges.splitAt(nowPresent, vmas)));
                if (mm != null) files.put(mmName, mm);
                if (filesImage != null) filesImage.patch(files, open);
                long[] fileBytes = {0};
                int records = shipFiles(files, false, sink, fileBytes);
                Map<String, Long> manifest = new TreeMap<>();
                files.forEach((k, v) -> manifest.put(k, (long) v.length));
                manifest.put("pages-" + pagesId + ".img", Ranges.pages(nowPresent) * PAGE);

                PageHashes h = hashes.computeIfAbsent(pagemapName, k -> new PageHashes(1024));
                if (xor != null) xor.start(pagemapName, sink);
                long[] gone = Ranges.subtract(present, nowPresent);
                for (int i = 0; i < gone.length; i += 2) {
                    for (long v = gone[i]; v < gone[i + 1]; v += PAGE) {
                        h.remove(v);
                        if (xor != null) xor.gone(v);
                    }
                }
                Batch batch = new Batch(pagemapName, sink, scratch);
                int pos = 0;
                for (int i = 0; i < copied.length; i += 2) {
                    for (long v = copied[i]; v < copied[i + 1]; v += PAGE, pos += PAGE) {
                        ByteBuffer page = data.slice(pos, PAGE);
                        if (!h.changed(v, hash(page))) continue;
                        if (xor == null || !xor.offer(v, page)) batch.add(v, page);
                    }
                }
                int xorRecords = xor == null ? 0 : xor.finish();
                batch.flush();
                present = nowPresent;
                presentMaps = java.util.Set.copyOf(vmas); // the stop's maps (the dump's when equal to them)
                long xorred = xor == null ? 0 : xor.pages();
                xorPages += xorred;
                plainPages += batch.pages;
                return new Delta(manifest, records + batch.records + xorRecords, batch.pages + xorred, fileBytes[0]);
            } catch (IOException | RuntimeException e) {
                resync = true;
                dropShippedPages();
                throw e;
            }
        }

        @Override
        public void discard() {
            resync = true; // the tracker's written set of this epoch is gone
            invalidate();
        }
    }

    /** For the memory oracle test: the next incremental epoch also writes an {@link OracleSnapshot} into {@code dir}. */
    public void requestOracleSnapshot(Path dir) {
        if (oracleEpoch < 0) oracleRequest = dir;
    }

    /** The epoch an oracle snapshot was taken at, or -1. */
    public long oracleEpoch() {
        return oracleEpoch;
    }

    @Override
    public void close() {
        tracer.close();
        memoryThread.shutdownNow();
        tracker.close();
        presentScan.close();
    }
}
