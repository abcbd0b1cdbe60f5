package io.checkpointd.restore.store;

import io.checkpointd.linux.ReplyPathPriority;
import io.checkpointd.protocol.status.Window;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes applied epochs durable on a thread of its own, in groups: one {@link ImageStore#sync()} (fsync of the log
 * files, the directory, STATE) covers every epoch applied since the previous one began, so an epoch that arrives
 * while an fsync runs waits for the next one, not for one fsync per epoch ahead of it; and the store thread goes on
 * receiving and applying epochs meanwhile. Callbacks run on the sync thread, in request order.
 */
public final class GroupCommit implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GroupCommit.class);

    /** Hears how a requested sync ended. */
    public interface Done {
        /** Every epoch applied before the request is durable, up to {@code durableEpoch}. */
        void durable(long durableEpoch);

        void failed(IOException e);
    }

    private final ImageStore store;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> {
        // on the durable ack's path: it mostly waits in fsync, and must not then wait for a CPU to hand the ack on
        Thread t = new Thread(() -> {
            ReplyPathPriority.raise();
            r.run();
        }, "store-sync");
        t.setDaemon(true);
        return t;
    });
    private final List<Done> waiting = new ArrayList<>();
    private boolean scheduled;
    private final Window syncMs = new Window(1024), epochsPerSync = new Window(1024);

    public GroupCommit(ImageStore store) {
        this.store = store;
    }

    /** Asks for every epoch applied so far to be made durable; {@code then} hears when it is (or that it failed). */
    public synchronized void request(Done then) {
        waiting.add(then);
        if (scheduled) return;
        scheduled = true;
        thread.execute(this::run);
    }

    private void run() {
        List<Done> batch;
        synchronized (this) {
            batch = new ArrayList<>(waiting);
            waiting.clear();
            scheduled = false;
        }
        long t0 = System.nanoTime();
        long durable;
        try {
            durable = store.sync();
        } catch (IOException | RuntimeException e) {
            IOException io = e instanceof IOException x ? x : new IOException(e.toString(), e);
            log.warn("making epochs durable failed: {}", io.getMessage());
            for (Done d : batch) d.failed(io);
            return;
        }
        syncMs.add((System.nanoTime() - t0) / 1e6);
        epochsPerSync.add(batch.size());
        for (Done d : batch) d.durable(durable);
    }

    /** Time of one group's sync, ms. */
    public Window syncMs() {
        return syncMs;
    }

    /** Epochs (requests) one sync covered. */
    public Window epochsPerSync() {
        return epochsPerSync;
    }

    /** Finishes the syncs asked for so far (at most 5 s) and stops the thread. */
    @Override
    public void close() throws InterruptedException {
        thread.shutdown();
        thread.awaitTermination(5, TimeUnit.SECONDS);
    }
}
