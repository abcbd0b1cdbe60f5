package io.checkpointd.primary.engine;

import io.checkpointd.linux.freezer.Freezer;
import java.io.IOException;

/**
 * How an epoch is captured. {@link #capture} holds the process (freezer or ptrace), seals its output at the proxy,
 * captures, and returns with the process running again (the pause is over) and a {@link Capture} whose records are
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
     * Captures epoch {@code n}: brings the process to a consistent instant (frozen, or every thread stopped), seals
     * its output there, captures, and lets it run again before returning.
     *
     * @param full the epoch must not depend on any earlier one (first sync, or a resync after a NACK or a lost
     *             connection)
     * @param pause what the primary provides for the pause: the freezer, the output seal, and the epoch's other
     *              captures (the data dirs)
     */
    Capture capture(long n, boolean full, Pause pause) throws IOException, InterruptedException;

    /**
     * The primary's side of one epoch's pause. The engine calls {@link #seal()} exactly once, at the instant it
     * captures (every thread stopped or the process frozen), and {@link #atCapture()} at that same instant; the
     * process must not run between the two and the capture. A failure of {@link #freeze()} or {@link #seal()} means
     * the epoch is skipped (output stays held), not that capturing failed.
     */
    interface Pause {
        /** The process's freezer cgroup; the primary thaws it after every epoch whatever happened. */
        Freezer freezer();

        /** Freezes the cgroup (bounded). */
        void freeze() throws IOException;

        /** SEAL at the proxy: the service's output so far belongs to this epoch; called with the process held. */
        void seal() throws IOException;

        /**
         * {@link #seal()} in two halves, for an engine with other work to do while the process is held: this one
         * sends the SEAL, {@link #sealAwait()} waits for the proxy's answer; the process must stay held from this
         * call until that one returns.
         */
        default void sealStart() throws IOException {
            seal();
        }

        /** The second half of {@link #sealStart()}: returns once the proxy confirmed the seal. */
        default void sealAwait() throws IOException {
        }

        /** Captures what else belongs to the epoch (data dirs) at the capture instant. */
        void atCapture() throws IOException;
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

    /**
     * For the memory oracle test (a fault point): the next epoch this engine can also write as the process's true
     * state writes it into {@code dir}. Engines that cannot ignore it.
     */
    default void requestOracleSnapshot(java.nio.file.Path dir) {
    }

    /** The epoch an oracle snapshot was taken at, or -1. */
    default long oracleEpoch() {
        return -1;
    }

    @Override
    void close();

    /** One captured epoch, ready to ship. */
    interface Capture {
        /** Whether the records replace the whole image (EPOCH_BEGIN says FULL) rather than patch the previous one. */
        boolean full();

        /** When the process was let run again ({@link System#nanoTime()}): the pause ends here. */
        long resumedAtNanos();

        /**
         * How long the process was held for this epoch, given when capture began: by default up to
         * {@link #resumedAtNanos()}; an engine that let the process run in between (a stop retried because the
         * structure was changing) counts only the time it was held.
         */
        default long pausedNanos(long startNanos) {
            return resumedAtNanos() - startNanos;
        }

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
