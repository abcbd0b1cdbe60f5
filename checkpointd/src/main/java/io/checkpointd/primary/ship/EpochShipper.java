package io.checkpointd.primary.ship;

import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.primary.capture.disk.DataDirs;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.pause.Realtime;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import java.io.IOException;
import java.io.PrintWriter;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Ships one captured epoch to the backup: EPOCH_BEGIN, the capture's records and the data dirs' records as
 * EPOCH_DATA, then EPOCH_END with their count and SHA-256, so the backup can verify the epoch whole before it
 * commits. A full sync prints its progress on the console.
 *
 * <p>{@link #ship} produces the records on the caller's thread and queues their frames on the link's ship stage
 * ({@link SendStage}), which compresses and writes them on its own thread: it returns once the epoch is queued, and
 * {@link Written} hears when its END is on the wire. Frames are queued in bursts of {@link #BURST_BYTES}, the END
 * with the last, so a small epoch is one burst: one flush, and (the stage idle) written without a thread hand-off.
 */
public final class EpochShipper {
    /** Where in a ship a fault point may fire (see the primary's fault points). */
    public interface ShipFaults {
        /** A record of epoch {@code n} was sent. */
        void recordSent(long n);

        /** Epoch {@code n}'s END was sent. */
        void endSent(long n);

        /** Whether {@link #recordSent} must follow each record as it is queued (a fault point waits there), not a burst. */
        default boolean everyRecord() {
            return false;
        }
    }

    /**
     * What one ship queued.
     *
     * @param rawBytes  record bytes before compression
     * @param fileBytes of {@code rawBytes}, image files'
     */
    public record Shipped(long rawBytes, long fileBytes) {
    }

    /** Told on the ship stage's thread when an epoch's END is on the wire; must not block. */
    @FunctionalInterface
    public interface Written {
        /**
         * @param wireBytes  the epoch's bytes on the wire (compressed, framed)
         * @param writeNanos from its BEGIN queued to its END written
         */
        void written(long n, long wireBytes, long writeNanos);
    }

    /** Record bytes gathered before they are queued on the ship stage: a large epoch still streams while produced. */
    static final long BURST_BYTES = 256L << 10;
    /** Epochs of at most this many captured bytes are shipped at real-time priority. */
    static final long REALTIME_MAX_BYTES = 4L << 20;

    private final Realtime realtime = new Realtime();

    private final BackupLink link;
    private final long generation;
    private final int pid;
    private final PrintWriter console;
    private final ShipFaults faults;
    private final Written written;

    public EpochShipper(BackupLink link, long generation, int pid, PrintWriter console, ShipFaults faults, Written written) {
        this.link = link;
        this.generation = generation;
        this.pid = pid;
        this.console = console;
        this.faults = faults;
        this.written = written;
    }

    /**
     * Ships epoch {@code n}, captured with {@code pauseNanos} of pause, as a delta on {@code base} (or
     * {@link EpochBegin#FULL}); {@code disk} (or null) adds the data dirs' records inside the epoch.
     */
    public Shipped ship(long n, long base, CaptureEngine.Capture cap, long pauseNanos, DataDirs disk)
            throws IOException, InterruptedException {
        // a small epoch (a reply waits for it) is produced and, the stage idle, written at the pause's real-time
        // priority: a few ms of CPU that would otherwise queue behind every runnable thread of the host. A large one
        // stays at normal priority, so the service is not starved for as long as it takes
        boolean rt = cap.capturedBytes() <= REALTIME_MAX_BYTES && realtime.on();
        try {
            return produce(n, base, cap, pauseNanos, disk);
        } finally {
            if (rt) realtime.off();
        }
    }

    private Shipped produce(long n, long base, CaptureEngine.Capture cap, long pauseNanos, DataDirs disk)
            throws IOException, InterruptedException {
        long captured = cap.capturedBytes();
        MessageDigest md = sha256();
        long[] raw = {0};
        long queuedAt = System.nanoTime();
        AtomicLong wire = new AtomicLong();
        SendStage.Sent counted = wire::addAndGet; // on the ship stage's thread
        Progress progress = cap.full() ? new Progress(captured) : null;
        boolean everyRecord = faults.everyRecord();
        Burst burst = new Burst();
        link.begin(n);
        burst.add(new Frame(FrameType.EPOCH_BEGIN, generation, n, new EpochBegin(base, pauseNanos, captured).encode()), counted);
        DeltaComputer.Sink sink = rec -> {
            byte[] p = rec.encode();
            md.update(p);
            raw[0] += p.length;
            try {
                burst.add(new Frame(FrameType.EPOCH_DATA, generation, n, p), counted);
                if (everyRecord || burst.bytes >= BURST_BYTES) burst.queue();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
            if (progress != null) progress.update(raw[0]);
            if (everyRecord) faults.recordSent(n);
        };
        CaptureEngine.Delta r = cap.ship(sink::accept);
        int diskRecords = disk == null ? 0 : disk.ship(sink); // inside BEGIN…END, so the digest and count cover them
        long rawAll = raw[0];
        burst.add(new Frame(FrameType.EPOCH_END, generation, n, new EpochEnd(r.records() + diskRecords, md.digest(), r.manifest()).encode()),
                endBytes -> {
                    link.ended(n);
                    long w = wire.addAndGet(endBytes);
                    if (progress != null) progress.done(rawAll, w);
                    written.written(n, w, System.nanoTime() - queuedAt);
                });
        burst.queue();
        faults.endSent(n);
        return new Shipped(rawAll, r.shippedFileBytes());
    }

    /** Frames gathered for one enqueue on the ship stage. */
    private final class Burst {
        private final List<Frame> frames = new ArrayList<>();
        private final List<SendStage.Sent> sent = new ArrayList<>();
        long bytes;

        void add(Frame f, SendStage.Sent s) {
            frames.add(f);
            sent.add(s);
            bytes += f.payload().length;
        }

        void queue() throws IOException, InterruptedException {
            if (frames.isEmpty()) return;
            link.sendAll(List.copyOf(frames), List.copyOf(sent));
            frames.clear();
            sent.clear();
            bytes = 0;
        }
    }

    /** Full-sync progress on the console: bytes and rate, at most twice a second. */
    private final class Progress {
        private final long total;
        private final long t0 = System.nanoTime();
        private long lastPrint;

        Progress(long total) {
            this.total = total;
        }

        void update(long done) {
            long now = System.nanoTime();
            if (now - lastPrint < 500_000_000L) return;
            lastPrint = now;
            console.printf("checkpointd: full sync of pid %d: %.1f MB of ~%.1f MB (%.0f MB/s)%n", pid, done / 1e6,
                    total / 1e6, done / 1e6 / Math.max(1e-3, (now - t0) / 1e9));
            console.flush();
        }

        void done(long raw, long wire) {
            double s = Math.max(1e-3, (System.nanoTime() - t0) / 1e9);
            console.printf("checkpointd: full sync of pid %d shipped: %.1f MB raw, %.1f MB compressed, %.2f s (%.0f MB/s)%n",
                    pid, raw / 1e6, wire / 1e6, s, raw / 1e6 / s);
            console.flush();
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
