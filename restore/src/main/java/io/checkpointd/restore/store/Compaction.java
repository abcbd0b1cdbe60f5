package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link ImageStore}'s compaction: once the log holds as many bytes as the image (and {@link #COMPACT_EPOCHS}
 * epochs, unless it passed 64 MiB first), or {@link #MAX_LOG_EPOCHS} epochs, it is folded into a new base in the
 * background, so the store holds one image, not a pile that grows with time. A compaction writes the whole image, so
 * it waits until the log is as large: folding every 32 small epochs kept a core busy beside the service.
 * The base is materialized from a snapshot of the committed plan outside the store lock (plans and replicas are never
 * mutated in place, so the snapshot stays valid while epochs go on committing); the store takes it under its lock
 * ({@link ImageStore#adoptBase}). The compactor's thread also runs the standby image's batches.
 *
 * <p>The store lock (the {@link ImageStore}'s monitor) guards whether a compaction runs and the log's size: the
 * store calls every method but {@link #executor} and {@link #shutdown} with it held, and the background run takes it
 * to say it has ended.
 */
final class Compaction {
    private static final Logger log = LoggerFactory.getLogger(Compaction.class);
    static final int COMPACT_EPOCHS = 32, MAX_LOG_EPOCHS = 1024;

    /** What a compaction folds: the committed plan and data replica of {@code epoch}, on base {@code base}. */
    record Snapshot(ImagePlan plan, DataReplica data, long epoch, String base) { }

    private final ImageStore store;
    private final Path dir;
    private final ExecutorService executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "store-compactor");
        t.setDaemon(true);
        return t;
    });
    private boolean running;
    /** Bytes of the log files of the epochs since the base. */
    private long logBytes;

    Compaction(ImageStore store, Path dir) {
        this.store = store;
        this.dir = dir;
    }

    /** The compactor's thread, shared with the {@link StandbyImage} (so no stored file a batch reads is removed under it). */
    ExecutorService executor() {
        return executor;
    }

    /** Whether a compaction runs (or is queued). */
    boolean running() {
        return running;
    }

    /** Whether the log of {@code state} has grown enough to fold into a new base. */
    boolean due(StoreState state, ImagePlan plan) {
        return due(state.log().size(), logBytes, plan::imageBytes);
    }

    /** Whether a log of {@code epochs} epochs and {@code logBytes} bytes is worth folding (the image sized only if needed). */
    static boolean due(int epochs, long logBytes, LongSupplier imageBytes) {
        if (epochs >= MAX_LOG_EPOCHS) return true;
        if (epochs < COMPACT_EPOCHS && logBytes < 64L << 20) return false;
        return logBytes >= imageBytes.getAsLong();
    }

    /** An epoch's log file of {@code bytes} was applied; a full epoch starts the log over. */
    void logged(boolean full, long bytes) {
        logBytes = full ? bytes : logBytes + bytes;
    }

    /** The log was read at open: {@code bytes} in all. */
    void replayed(long bytes) {
        logBytes = bytes;
    }

    /** Starts folding {@code snapshot} into a new base on the compactor's thread. */
    void start(Snapshot snapshot) {
        running = true;
        executor.execute(() -> run(snapshot));
    }

    private void run(Snapshot s) {
        long t0 = System.nanoTime();
        String name = "base-" + s.epoch();
        Path tmp = dir.resolve(name + ".tmp");
        try {
            ImageDirs.deleteTree(tmp);
            s.plan().materialize(tmp, true);
            if (!s.data().isEmpty()) {
                s.data().foldInto(tmp.resolve(DataReplica.DATA), true); // links the old base's unchanged files
                StoreState.fsyncDir(tmp);
            }
            ImagePlan relocated = s.plan().relocatedTo(dir.resolve(name)); // O(image): outside the lock
            long t1 = System.nanoTime();
            List<Path> garbage = store.adoptBase(s, name, tmp, relocated);
            if (garbage == null) return;
            long t2 = System.nanoTime();
            try {
                StoreDebris.delete(garbage); // outside the store lock: commits and a failover's restore go on meanwhile
            } catch (IOException e) {
                log.warn("compacted the store into {}; deleting the files it replaced failed (deleted when space runs short,"
                        + " or at the next open): {}", name, e.toString());
                return;
            }
            log.info("compacted the store into {} in {} ms ({} ms of it adopting it under the store lock, {} ms deleting {} files"
                    + " it replaced)", name, (System.nanoTime() - t0) / 1_000_000, (t2 - t1) / 1_000_000,
                    (System.nanoTime() - t2) / 1_000_000, garbage.size());
        } catch (IOException | RuntimeException e) {
            // the committed image is untouched: STATE still names the old base and log
            log.warn("compaction into {} failed (will retry later): {}", name, e.toString());
            if (e instanceof IOException io) store.spaceNoted(io);
            try {
                ImageDirs.deleteTree(tmp);
            } catch (IOException ignored) {
                // removed at the next open
            }
        } finally {
            synchronized (store) {
                running = false;
                store.notifyAll();
            }
        }
    }

    /**
     * Removes what a compaction that failed on a full or read-only disk may have left, its base-N.tmp (an image's worth
     * of space): left until the next open, it would keep a recovered disk from ever fitting a full sync again. Called
     * as an epoch begins; nothing while a compaction runs (the temp base is then its own).
     */
    void removeLeftovers(StoreState state) {
        if (running) return;
        try {
            StoreDebris.removeTop(dir, state);
        } catch (IOException e) {
            log.debug("cannot remove debris yet (tried again at the next epoch): {}", e.toString());
        }
    }

    /** The store took a new base: counts the log files {@code state} still names. */
    void rebased(StoreState state) throws IOException {
        logBytes = 0;
        for (long e : state.log()) logBytes += Files.size(dir.resolve("log").resolve("epoch-" + e + ".d"));
    }

    /** Stops the compactor's thread, once no compaction runs (a standby batch stops at its next check). */
    void shutdown() throws InterruptedException {
        executor.shutdown();
        executor.awaitTermination(30, TimeUnit.SECONDS);
    }
}
