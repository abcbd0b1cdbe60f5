package io.checkpointd.primary.engine;

import io.checkpointd.linux.freezer.Freezer;
import java.io.IOException;

/**
 * How an epoch is captured. {@link #capture} is called with the process frozen and its output sealed at the
 * proxy; it returns with the process running again (the pause is over) and a {@link Capture} whose records are
 * shipped afterwards, while the process runs on.
 *
 * <p>Two engines: {@link FullDumpEngine} ({@code criu dump --leave-running} every epoch, pause proportional to the
 * process's memory) and {@link IncrementalEngine} (dirty pages + registers each epoch, a CRIU dump only when the
 * process's structure changed; pause proportional to what was written).
 */
public interface CaptureEngine extends AutoCloseable {
    /** {@code "criu-full"} or {@code "incremental"}. */
    String name();

    /** Which dirty-page tracker runs and why ({@code "criu-full-dump"} for the full engine). */
    String tracker();

    /**
     * Captures epoch {@code n}.
     *
     * @param full the epoch must not depend on any earlier one (first sync, or a resync after a NACK or a lost
     *             connection)
     * @param freezer the process's freezer; frozen on entry
     * @param atCapture run once at the instant whose memory the epoch captures (every thread stopped, or the process
     *                  frozen after a CRIU dump), before the process runs again: what else belongs to the epoch (the
     *                  data dirs) is captured there
     */
    Capture capture(long n, boolean full, Freezer freezer, AtCapture atCapture) throws IOException, InterruptedException;

    /** Captures what else belongs to an epoch, at the instant its memory is captured. */
    @FunctionalInterface
    interface AtCapture {
        void run() throws IOException;
    }

    /** Engine-specific counters for {@code status} (e.g. how many epochs needed a CRIU dump, and why). */
    default java.util.Map<String, Object> stats() {
        return java.util.Map.of();
    }

    /**
     * The backup may not hold what was shipped (a NACK, a lost connection): nothing shipped so far may serve as the
     * base of a later epoch's record. Any thread; the engine acts on it before it ships again.
     */
    default void invalidate() {
    }

    @Override
    void close();

    /** One captured epoch, ready to ship. */
    interface Capture {
        /** Whether the records replace the whole image (EPOCH_BEGIN says FULL) rather than patch the previous one. */
        boolean full();

        /** When the process was let run again ({@link System#nanoTime()}): the pause ends here. */
        long resumedAtNanos();

        /** Bytes this epoch captured (image files + pages), for status. */
        long capturedBytes();

        /**
         * Emits the epoch's records to {@code sink} and returns what was shipped. Called once; afterwards this
         * capture is the reference the next epoch's delta is computed against.
         */
        Delta ship(RecordSink sink) throws IOException;

        /** Drops the capture without shipping it (the epoch failed after capture). */
        void discard();
    }

    /** Receives an epoch's records in order. */
    @FunctionalInterface
    interface RecordSink {
        void accept(io.checkpointd.protocol.replication.EpochRecord record) throws IOException;
    }

    /**
     * What one epoch shipped.
     *
     * @param manifest name → size of every file of the epoch's image (the backup checks its image against it)
     * @param records  records emitted
     */
    record Delta(java.util.Map<String, Long> manifest, int records, long changedPages, long shippedFileBytes) {
    }
}
