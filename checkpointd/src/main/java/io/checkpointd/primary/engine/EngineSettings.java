package io.checkpointd.primary.engine;

/**
 * Every {@code -Dcheckpointd.*} tuning setting of the primary, as KEY / DEFAULT / getter triples (docs/operations.md
 * has the same table). A getter reads the system property each time it is called; the engine reads each once, when it
 * is built. A malformed number reads as the default; a boolean is true only for {@code "true"} (any case).
 */
public final class EngineSettings {
    private EngineSettings() {
    }

    /** Copy the pages written so far while the process still runs, before each stop. */
    public static final String PRECOPY_KEY = "checkpointd.precopy";
    public static final boolean PRECOPY_DEFAULT = true;

    public static boolean precopy() {
        return bool(PRECOPY_KEY, PRECOPY_DEFAULT);
    }

    /**
     * Skip the pre-copy when the last epoch wrote less than this many bytes: the epoch that follows is likely small
     * too (a reply waits for it), and its pages re-protected in the pause cost less than a walk of every tracked
     * range while the process runs. 0: always pre-copy.
     */
    public static final String PRECOPY_MIN_BYTES_KEY = "checkpointd.precopy.minBytes";
    public static final long PRECOPY_MIN_BYTES_DEFAULT = 1L << 20;

    public static long precopyMinBytes() {
        return Long.getLong(PRECOPY_MIN_BYTES_KEY, PRECOPY_MIN_BYTES_DEFAULT);
    }

    /**
     * Copy the first base dump's private anonymous memory while the process runs, CRIU dumping only the rest
     * (needs the uffd-wp tracker and a CRIU with {@code --skip-pages-in}); a copy that fails makes the dump whole.
     * Off by default: the memory oracle found 4 stale pages in a thread stack with it on, once in CI (12-08,
     * docs/benchmarks.md), not yet explained.
     */
    public static final String FIRST_PRECOPY_KEY = "checkpointd.first-precopy";
    public static final boolean FIRST_PRECOPY_DEFAULT = false;

    public static boolean firstPrecopy() {
        return bool(FIRST_PRECOPY_KEY, FIRST_PRECOPY_DEFAULT);
    }

    /** Run the pre-copy at real-time priority ({@link #pauseRealtime()}). */
    public static final String PRECOPY_REALTIME_KEY = "checkpointd.precopy.realtime";
    public static final boolean PRECOPY_REALTIME_DEFAULT = true;

    public static boolean precopyRealtime() {
        return bool(PRECOPY_REALTIME_KEY, PRECOPY_REALTIME_DEFAULT);
    }

    /** The tracer thread is real-time from the stop's start on (else from the end of the stop). */
    public static final String STOP_REALTIME_KEY = "checkpointd.stop.realtime";
    public static final boolean STOP_REALTIME_DEFAULT = true;

    public static boolean stopRealtime() {
        return bool(STOP_REALTIME_KEY, STOP_REALTIME_DEFAULT);
    }

    /** The longest sleep, µs, between two polls for the threads' ptrace-stops. */
    public static final String STOP_MAX_POLL_MICROS_KEY = "checkpointd.stop.maxPollMicros";
    public static final long STOP_MAX_POLL_MICROS_DEFAULT = 100;

    public static long stopMaxPollMicros() {
        return Long.getLong(STOP_MAX_POLL_MICROS_KEY, STOP_MAX_POLL_MICROS_DEFAULT);
    }

    /** SCHED_FIFO priority of the pause's threads; 0: normal priority. */
    public static final String PAUSE_REALTIME_KEY = "checkpointd.pause.realtime";
    public static final int PAUSE_REALTIME_DEFAULT = 10;

    public static int pauseRealtime() {
        return Integer.getInteger(PAUSE_REALTIME_KEY, PAUSE_REALTIME_DEFAULT);
    }

    /** The pause's two threads spin for each other before blocking (only with more than one CPU). */
    public static final String PAUSE_SPIN_KEY = "checkpointd.pause.spin";
    public static final boolean PAUSE_SPIN_DEFAULT = true;

    public static boolean pauseSpin() {
        return bool(PAUSE_SPIN_KEY, PAUSE_SPIN_DEFAULT);
    }

    /** How long, ns, the memory thread spins for the memory map the tracer thread reads. */
    public static final String PAUSE_SPIN_HANDOFF_KEY = "checkpointd.pause.spin.handoff";
    public static final long PAUSE_SPIN_HANDOFF_DEFAULT = 200_000;

    public static long pauseSpinHandoffNanos() {
        return Long.getLong(PAUSE_SPIN_HANDOFF_KEY, PAUSE_SPIN_HANDOFF_DEFAULT);
    }

    /** How long, ns, the tracer thread spins for the memory thread's result. */
    public static final String PAUSE_SPIN_JOIN_KEY = "checkpointd.pause.spin.join";
    public static final long PAUSE_SPIN_JOIN_DEFAULT = 3_000_000;

    public static long pauseSpinJoinNanos() {
        return Long.getLong(PAUSE_SPIN_JOIN_KEY, PAUSE_SPIN_JOIN_DEFAULT);
    }

    /**
     * Capture fds opened and closed between epochs in the engine ({@link io.checkpointd.primary.engine.fds.FdReader});
     * false: any change of the fd table makes the epoch a CRIU dump (the behaviour before issue 15, for comparison).
     */
    public static final String FDS_CAPTURE_KEY = "checkpointd.fds.capture";
    public static final boolean FDS_CAPTURE_DEFAULT = true;

    public static boolean fdsCapture() {
        return bool(FDS_CAPTURE_KEY, FDS_CAPTURE_DEFAULT);
    }

    /** Ship a page written again as XOR against its last shipped content. */
    public static final String XOR_KEY = "checkpointd.xor";
    public static final boolean XOR_DEFAULT = true;

    public static boolean xor() {
        return bool(XOR_KEY, XOR_DEFAULT);
    }

    /** MiB of last shipped page contents kept for XOR (at least 1). */
    public static final String XOR_CACHE_MIB_KEY = "checkpointd.xor.cacheMiB";
    public static final int XOR_CACHE_MIB_DEFAULT = 64;

    public static int xorCacheMiB() {
        return Math.max(1, Integer.getInteger(XOR_CACHE_MIB_KEY, XOR_CACHE_MIB_DEFAULT));
    }

    /**
     * Take a CRIU dump whenever threads started or ended since the base dump, as before the engine captured them:
     * the baseline of the thread-churn benchmark.
     */
    public static final String THREADS_BY_CRIU_KEY = "checkpointd.threads.byCriu";
    public static final boolean THREADS_BY_CRIU_DEFAULT = false;

    public static boolean threadsByCriu() {
        return bool(THREADS_BY_CRIU_KEY, THREADS_BY_CRIU_DEFAULT);
    }

    private static boolean bool(String key, boolean def) {
        return Boolean.parseBoolean(System.getProperty(key, Boolean.toString(def)));
    }
}
