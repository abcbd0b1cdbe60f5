package io.checkpointd.primary.engine.status;

import io.checkpointd.protocol.status.Window;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * The incremental engine's counters for {@code status}, recorded by its stages: epochs and CRIU dumps (and why), the
 * pause's phases, the pre-copy, presence, XOR. Written by the capture and shipping threads, read by status.
 */
public final class EngineStats {
    /**
     * Per-phase time of incremental pauses, ms: where the pause goes (status, benchmark). Tracer thread: stop,
     * structure (maps read, then compared), seal (and the data dirs), registers (and open files), wait (for the
     * memory thread), resume; memory thread, from the end of the stop: collect (its walks need no maps), present, copy.
     */
    public static final String[] PHASES = {"stop", "structure", "seal", "collect", "present", "copy", "registers", "wait", "resume"};
    /**
     * The structure phase's parts, ms, in a pause that found no change needing a CRIU dump: the maps read, the
     * thread check, the fd table, status and cwd read and compared, the fd reader, the TCP streams' repair state, the
     * mm image rebuilt (0 when the anonymous mappings did not change).
     */
    public static final String[] STRUCTURE_PHASES = {"maps", "threads", "read", "fds", "tcp", "mm"};
    /** The pre-copy's parts, ms: the precollect (report and re-protect), the copy. */
    public static final String[] PRECOPY_PHASES = {"precollect", "copy"};
    /**
     * An incremental epoch's records after the pause, ms, on the epoch loop: patch (the base's files with this
     * epoch's cores, pagemap, mm, files), files (those that changed, queued), pages (hashed, XORed, queued).
     */
    public static final String[] RECORD_PHASES = {"patch", "files", "pages"};

    private final Window[] phases = windows(PHASES.length);
    private final Window precopyMs = new Window(1024);
    /** Time, ms, the fd reader took inside the structure phase (issue 15's cost in the pause). */
    private final Window fdReadMs = new Window(1024);
    private final Window[] structurePhases = windows(STRUCTURE_PHASES.length);
    private final Window[] precopyPhases = windows(PRECOPY_PHASES.length);
    private final Window[] recordPhases = windows(RECORD_PHASES.length);
    private final Map<String, Long> dumpReasons = new TreeMap<>();
    private long incrementalEpochs, baseDumps;
    /** Incremental epochs whose memory map changed (anonymous mappings, the brk heap): mm.img rebuilt, no CRIU dump. */
    private long mmRebuilt;
    private long deferrals, settleWaits, preCopyFailures, precopiedBytes, pauseCopiedBytes, precopiesSkipped;
    /** Last incremental epoch: bytes of mappings whose present pages were derived (followed) or rescanned. */
    private long followedBytes, rescannedBytes;
    private volatile long xorPages, plainPages;

    private static Window[] windows(int n) {
        Window[] w = new Window[n];
        for (int i = 0; i < n; i++) w[i] = new Window(1024);
        return w;
    }

    /** One incremental pause's phases, ns, in {@link #PHASES} order. */
    public void pausePhases(double[] nanos) {
        for (int i = 0; i < phases.length; i++) phases[i].add(nanos[i] / 1e6);
    }

    /** One pause's structure phase, ns, in {@link #STRUCTURE_PHASES} order. */
    public void structurePhases(long[] nanos) {
        for (int i = 0; i < structurePhases.length; i++) structurePhases[i].add(nanos[i] / 1e6);
    }

    /** The fd reader's time in one pause, ns (part of the structure phase). */
    public void fdRead(long nanos) {
        fdReadMs.add(nanos / 1e6);
    }

    /** One pre-copy's whole time, ns (the process running). */
    public void precopy(long nanos) {
        precopyMs.add(nanos / 1e6);
    }

    /** An epoch went without a pre-copy: the one before it wrote little. */
    public void precopySkipped() {
        precopiesSkipped++;
    }

    /** The parts of one pre-copy whose copy succeeded, ns. */
    public void precopyPhases(long precollectNanos, long copyNanos) {
        precopyPhases[0].add(precollectNanos / 1e6);
        precopyPhases[1].add(copyNanos / 1e6);
    }

    /** The parts of one incremental epoch's records, ns, in {@link #RECORD_PHASES} order. */
    public void recordPhases(long patchNanos, long filesNanos, long pagesNanos) {
        recordPhases[0].add(patchNanos / 1e6);
        recordPhases[1].add(filesNanos / 1e6);
        recordPhases[2].add(pagesNanos / 1e6);
    }

    /** A pre-copy's copy failed: its pages are copied at the stop. */
    public void preCopyFailed() {
        preCopyFailures++;
    }

    /** A stop found the structure changing and was let go, to be retried. */
    public void deferred() {
        deferrals++;
    }

    /** The process's threads or open files were waited on before a stop. */
    public void settled() {
        settleWaits++;
    }

    /** The last incremental epoch's presence: bytes derived from the tracker and bytes rescanned. */
    public void presence(long followed, long rescanned) {
        followedBytes = followed;
        rescannedBytes = rescanned;
    }

    /** An incremental epoch was captured: bytes copied before the stop and in the pause. */
    public void incremental(long precopied, long pauseCopied) {
        incrementalEpochs++;
        precopiedBytes = precopied;
        pauseCopiedBytes = pauseCopied;
    }

    /** An incremental epoch's memory map differed from the base's: the engine rebuilt mm.img. */
    public void mmRebuilt() {
        mmRebuilt++;
    }

    /** A CRIU dump was taken for {@code kind}. */
    public void baseDump(String kind) {
        baseDumps++;
        dumpReasons.merge(kind, 1L, Long::sum);
    }

    /**
     * The first epoch's pre-copy: bytes copied running, of them kept (left out of CRIU's dump), the arming freeze, and
     * in the dump's freeze the time up to the tracker's collect and CRIU's dump.
     */
    public void firstPrecopy(long copied, long recopied, long kept, long armNanos, long toCollectNanos, long criuNanos) {
        firstPrecopy = new LinkedHashMap<>();
        firstPrecopy.put("copiedBytes", copied);
        firstPrecopy.put("recopiedBytes", recopied);
        firstPrecopy.put("keptBytes", kept);
        firstPrecopy.put("armMs", round(armNanos / 1e6));
        firstPrecopy.put("toCollectMs", round(toCollectNanos / 1e6));
        firstPrecopy.put("criuMs", round(criuNanos / 1e6));
    }

    private Map<String, Object> firstPrecopy;

    /** An epoch shipped: pages XORed and pages plain. */
    public void shipped(long xored, long plain) {
        xorPages += xored;
        plainPages += plain;
    }

    /** The counters, with the tracker's and the tracer's, and why epochs cannot be incremental (or null). */
    public Map<String, Object> toMap(Object trackerCounters, Object tracerCounters, String notIncremental) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("incrementalEpochs", incrementalEpochs);
        m.put("criuDumps", baseDumps);
        m.put("criuDumpReasons", new TreeMap<>(dumpReasons));
        m.put("mmRebuiltEpochs", mmRebuilt);
        m.put("pausePhaseP50Ms", p50(PHASES, phases));
        // the last incremental epoch's phases, with the count: a poller can take one sample per epoch
        Map<String, Object> last = new LinkedHashMap<>();
        for (int i = 0; i < phases.length; i++) last.put(PHASES[i], round(phases[i].last()));
        m.put("pausePhaseLastMs", last);
        m.put("structurePhaseP50Ms", p50(STRUCTURE_PHASES, structurePhases));
        m.put("tracker", trackerCounters);
        m.put("tracer", tracerCounters);
        if (fdReadMs.count() > 0) { // the fd reader runs unless checkpointd.fds.capture is off
            m.put("fdReadP50Ms", round(fdReadMs.percentile(0.5)));
            m.put("fdReadP99Ms", round(fdReadMs.percentile(0.99)));
        }
        m.put("precopyP50Ms", round(precopyMs.percentile(0.5)));
        m.put("precopyPhaseP50Ms", p50(PRECOPY_PHASES, precopyPhases));
        m.put("recordPhaseP50Ms", p50(RECORD_PHASES, recordPhases));
        m.put("precopiedBytes", precopiedBytes);
        if (firstPrecopy != null) m.put("firstPrecopy", firstPrecopy);
        m.put("pauseCopiedBytes", pauseCopiedBytes);
        m.put("preCopyFailures", preCopyFailures);
        m.put("precopiesSkipped", precopiesSkipped);
        m.put("deferredStops", deferrals);
        m.put("settledStops", settleWaits);
        m.put("presentFollowedBytes", followedBytes);
        m.put("presentRescannedBytes", rescannedBytes);
        m.put("xorPages", xorPages);
        m.put("plainPages", plainPages);
        if (notIncremental != null) m.put("notIncremental", notIncremental);
        return m;
    }

    private static Map<String, Object> p50(String[] names, Window[] w) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (int i = 0; i < w.length; i++) out.put(names[i], round(w[i].percentile(0.5)));
        return out;
    }

    private static double round(double ms) {
        return Math.round(ms * 1000) / 1000.0;
    }
}
