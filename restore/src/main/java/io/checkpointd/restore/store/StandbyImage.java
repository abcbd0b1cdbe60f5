package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A CRIU image of the committed epoch kept ready on the backup, so that a failover writes what changed since the
 * last catch-up instead of the whole image.
 *
 * <pre>
 * DIR/standby/parent/   a materialized image laid out once (pages-*.img in its pagemaps' order); pages are then
 *                       written in place, at their slot, as epochs commit
 * DIR/standby/CURRENT   "generation epoch": every slot of the parent holds that committed epoch's page; absent
 *                       while an update runs, so a torn parent is never taken for a current one
 * </pre>
 *
 * Epochs are handed over as they are applied ({@link #committed}: a queue, nothing else on the ack path) and caught
 * up in batches on the store's background thread (the compactor's, so no stored file a batch reads is removed
 * under it): the pages an epoch changed are the pages its plan's tables do not share with the previous plan's.
 * A restore image ({@link #prepareRestore}) is then a directory whose pagemaps mark as {@code PE_PARENT} every page
 * the parent has a slot for and no epoch since its last batch changed, and carry the others (pages that became
 * present after the layout, pages of that tail) in their own pages file, with a {@code parent} link to the parent,
 * as CRIU's incremental dumps do. When pages outside the layout outgrow {@link #EXTRA_LIMIT_BYTES}, or after a full
 * epoch, the parent is laid out anew.
 *
 * <p>The committed store stays the truth: a failed update, an unclean shutdown or any doubt drops the parent, the
 * next batch rebuilds it from the store, and until then a failover materializes from the store as before.
 */
public final class StandbyImage {
    private static final Logger log = LoggerFactory.getLogger(StandbyImage.class);
    static final String DIR = "standby", PARENT = "parent", CURRENT = "CURRENT";
    /** Pages outside the parent's layout beyond which it is laid out anew. */
    static final long EXTRA_LIMIT_BYTES = 64L << 20;
    private static final int CHECK_EVERY = 1024;
    /**
     * A batch starts at least this long after the last one ended: each costs four fsyncs however few pages it
     * writes, and a failover copies a short tail from the store in milliseconds (docs/benchmarks.md).
     */
    static final long BATCH_GAP_NANOS = 100_000_000L;
    /** Starts the batches that wait for their gap (one daemon thread for every store of the JVM). */
    private static final ScheduledExecutorService GAP = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "standby-gap");
        t.setDaemon(true);
        return t;
    });

    /** What a batch catches up to: the store's plan and epoch at the moment its queue was drained. */
    record Target(long generation, long epoch, ImagePlan plan, List<StandbyTail.Transition> transitions) {
    }

    /** A parent pagemap: where its pages sit, and its pages file. */
    private record Slots(ParentLayout layout, Path pages) {
    }

    /** What the store gives a batch: its plan and epoch, with the queue drained under the same lock. */
    interface Source {
        Target drain();
    }

    private final Path dir;
    private final Path parent;
    private final Executor executor;
    private final Source source;

    private final Object queueLock = new Object();
    private final ArrayDeque<StandbyTail.Transition> queue = new ArrayDeque<>();
    /** A drained batch not yet taken up by {@link #work} (a restore takes it over). */
    private Target inFlight;
    private boolean scheduled;
    /** A batch drained the queue but has not set {@link #inFlight} yet. */
    private boolean handedOver;
    /** A batch is past its drain and not yet done ({@link #stop} waits for it). */
    private boolean running;
    /** Set once a restore begins (or the store closes): no background work from then on. */
    private volatile boolean stopped;

    // written under this by one thread at a time; volatile so that status reads them without waiting for a batch
    private volatile Map<String, Slots> slots; // null: no usable parent
    private volatile long heldGeneration = -1, heldEpoch = -1;
    private volatile long extraPages;
    private volatile long batches, pagesWritten, rebuilds, failures, spaceSkips;
    private volatile RestorePhases restorePhases;
    /** When the last batch ended (System.nanoTime), 0 before one did. */
    private volatile long lastBatchEnd;

    private StandbyImage(Path storeDir, Executor executor, Source source) {
        this.dir = storeDir.resolve(DIR);
        this.parent = dir.resolve(PARENT);
        this.executor = executor;
        this.source = source;
    }

    /**
     * Opens the standby of the store in {@code storeDir}, whose committed image is {@code plan} at
     * {@code generation}/{@code epoch}: kept if CURRENT names exactly that epoch, else dropped and rebuilt.
     */
    static StandbyImage open(Path storeDir, Executor executor, Source source, ImagePlan plan, long generation, long epoch) throws IOException {
        StandbyImage s = new StandbyImage(storeDir, executor, source);
        Files.createDirectories(s.dir);
        ImageDirs.deleteTree(s.dir.resolve(PARENT + ".tmp"));
        long[] current = s.readCurrent();
        if (epoch >= 0 && current != null && current[0] == generation && current[1] == epoch && Files.isDirectory(s.parent)) {
            s.slots = readSlots(s.parent);
            s.heldGeneration = generation;
            s.heldEpoch = epoch;
            log.info("standby image current at epoch {} (generation {})", epoch, generation);
        } else {
            s.dropParent();
            if (epoch >= 0) {
                log.info("standby image {}: rebuilding it from the store's epoch {}", current == null ? "absent or torn" : "at another epoch", epoch);
                s.queue.add(new StandbyTail.Transition(generation, -1, epoch, true, null, plan));
            }
        }
        return s;
    }

    /** Starts the rebuild {@link #open} queued, if any (once the store can serve {@link Source#drain}). */
    void start() {
        synchronized (queueLock) {
            if (queue.isEmpty() || scheduled || stopped) return;
            scheduled = true;
        }
        schedule();
    }

    private void schedule() {
        long wait = lastBatchEnd == 0 ? 0 : lastBatchEnd + BATCH_GAP_NANOS - System.nanoTime();
        if (wait > 0) {
            GAP.schedule(this::submit, wait, TimeUnit.NANOSECONDS);
        } else {
            submit();
        }
    }

    private void submit() {
        try {
            executor.execute(this::work);
        } catch (RejectedExecutionException e) {
            synchronized (queueLock) {
                scheduled = false; // the store is closing
            }
        }
    }

    /** Queues an applied epoch (called under the store lock, on the ack path: only a queue and a wake-up). */
    void committed(long generation, long base, long epoch, boolean full, ImagePlan before, ImagePlan after) {
        synchronized (queueLock) {
            queue.addLast(new StandbyTail.Transition(generation, base, epoch, full, before, after));
            if (scheduled || stopped) return;
            scheduled = true;
        }
        schedule();
    }

    /**
     * Hands the queued transitions to a batch (under the store lock, with the plan they lead to). Until the batch
     * has them as {@link #inFlight}, a restore waits ({@link #handedOver}): they are in neither place.
     */
    List<StandbyTail.Transition> drainQueue() {
        synchronized (queueLock) {
            List<StandbyTail.Transition> t = new ArrayList<>(queue);
            queue.clear();
            scheduled = false;
            handedOver = true;
            return t;
        }
    }

    /** The background batch: catches the parent up to the store's current epoch. */
    private void work() {
        Target t = source.drain();
        synchronized (queueLock) {
            handedOver = false;
            queueLock.notifyAll();
            if (stopped) {
                inFlight = merge(inFlight, t);
                return;
            }
            inFlight = t;
            running = true;
        }
        try {
            catchUpTo(t);
        } finally {
            synchronized (queueLock) {
                running = false;
                queueLock.notifyAll();
            }
        }
    }

    private void catchUpTo(Target t) {
        synchronized (this) {
            synchronized (queueLock) {
                if (inFlight != t) return; // a restore took it over
                inFlight = null;
            }
            if (t.transitions().isEmpty()) return;
            try {
                catchUp(t);
                lastBatchEnd = System.nanoTime();
            } catch (Aborted e) {
                // a restore began: this batch's pages are partly in place, so the restore takes them from the store
                synchronized (queueLock) {
                    inFlight = merge(t, inFlight);
                }
            } catch (IOException | RuntimeException e) {
                log.warn("standby image: catching up to epoch {} failed, dropped until rebuilt: {}", t.epoch(), e.toString());
                tear();
            }
        }
    }

    private static Target merge(Target a, Target b) {
        if (a == null) return b;
        if (b == null) return a;
        List<StandbyTail.Transition> all = new ArrayList<>(a.transitions());
        all.addAll(b.transitions());
        return new Target(b.generation(), b.epoch(), b.plan(), all);
    }

    /**
     * Brings the parent to {@code t}: the pages the transitions changed, written at their slots from {@code t}'s
     * plan, or the whole parent laid out anew (after a full epoch, with no usable parent, or with too many pages
     * outside its layout). Throws {@link Aborted} as soon as a restore begins.
     */
    private void catchUp(Target t) throws IOException {
        boolean rebuild = slots == null;
        for (StandbyTail.Transition x : t.transitions()) rebuild |= x.full();
        if (rebuild) {
            rebuild(t);
            return;
        }
        Map<String, long[]> dirty = StandbyTail.changedPages(t.transitions());
        markNotCurrent();
        Map<Path, FileChannel> open = new HashMap<>();
        ByteBuffer page = ByteBuffer.allocateDirect(Pagemap.PAGE_SIZE);
        long written = 0;
        try {
            for (var e : dirty.entrySet()) {
                PageTable refs = t.plan().pages.get(e.getKey());
                if (refs == null) continue;
                Slots s = slots.get(e.getKey());
                if (s == null) continue; // no parent pagemap: all its pages are extra
                long[] pns = e.getValue();
                try (FileChannel out = FileChannel.open(s.pages(), StandardOpenOption.WRITE)) {
                    for (int i = 0; i < pns.length; i++) {
                        if (i == pns.length / 2 && i > 0) CommitFault.midStandbyUpdate.run();
                        if (stopped) throw new Aborted();
                        long idx = s.layout().indexOf(pns[i]);
                        ImagePlan.PageRef r = idx < 0 ? null : refs.get(pns[i] << 12);
                        if (r == null) continue; // no slot (an extra page) or no longer present
                        StandbyRestoreImage.copyPage(open, r, page, out, idx * Pagemap.PAGE_SIZE);
                        written++;
                    }
                    if (stopped) throw new Aborted();
                    out.force(false);
                }
            }
        } finally {
            for (FileChannel c : open.values()) c.close();
        }
        extraPages = extraPages(t.plan());
        batches++;
        pagesWritten += written;
        markCurrent(t.generation(), t.epoch());
        if (extraPages * Pagemap.PAGE_SIZE > EXTRA_LIMIT_BYTES) {
            log.info("standby image: {} MiB of pages outside the parent's layout: laying it out anew", extraPages * Pagemap.PAGE_SIZE >> 20);
            rebuild(t);
        }
    }

    /** Lays the parent out anew from {@code t}'s plan, in a temp dir switched in when complete and synced. */
    private void rebuild(Target t) throws IOException {
        long t0 = System.nanoTime();
        dropParent();
        Path tmp = dir.resolve(PARENT + ".tmp");
        ImageDirs.deleteTree(tmp);
        ImagePlan plan = t.plan();
        if (!roomFor(plan.imageBytes())) return; // no parent: the next batch tries again
        Files.createDirectories(tmp);
        Map<Path, FileChannel> open = new HashMap<>();
        ByteBuffer page = ByteBuffer.allocateDirect(Pagemap.PAGE_SIZE);
        boolean laidOut = false;
        try {
            plan.writeFiles(tmp, true, java.util.Set.of(), open);
            for (var e : plan.pagemaps.entrySet()) {
                PageTable refs = plan.pages.get(e.getKey());
                try (FileChannel out = FileChannel.open(tmp.resolve(e.getValue().pagesFileName()), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    long[] n = {0};
                    e.getValue().forEachPresentPage((vaddr, idx) -> {
                        ImagePlan.PageRef r = refs.get(vaddr);
                        if (r == null) throw new IOException("no data for page 0x" + Long.toHexString(vaddr) + " of " + e.getKey());
                        StandbyRestoreImage.copyPage(open, r, page, out, idx * Pagemap.PAGE_SIZE);
                        if (++n[0] % CHECK_EVERY == 0 && stopped) throw new Aborted();
                    });
                    out.force(true);
                }
            }
            laidOut = true;
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        } finally {
            for (FileChannel c : open.values()) c.close();
            if (!laidOut) ImageDirs.deleteTree(tmp); // a half-laid-out parent would hold its space until the next rebuild
        }
        StoreState.fsyncDir(tmp);
        Files.move(tmp, parent, StandardCopyOption.ATOMIC_MOVE);
        StoreState.fsyncDir(dir);
        slots = readSlots(parent);
        extraPages = 0;
        rebuilds++;
        markCurrent(t.generation(), t.epoch());
        log.info("standby image laid out at epoch {} in {} ms", t.epoch(), (System.nanoTime() - t0) / 1_000_000);
    }

    /**
     * Writes a restore image of the committed epoch ({@code plan}, {@code generation}/{@code epoch}, read under the
     * store lock) into {@code target} and stops the background for good: the parent must not change under a restored
     * process (its lazy pages are read from it). A batch in progress stops at its next check; the pages of the epochs
     * the parent has not caught up (that batch's included) go into the restore image's own pages file, copied from the
     * store, and the parent serves the rest. False if the parent is not usable (absent, being rebuilt, or behind by a
     * full epoch): then nothing was written.
     */
    boolean prepareRestore(Path target, ImagePlan plan, long generation, long epoch) throws IOException {
        long t0 = System.nanoTime();
        synchronized (queueLock) {
            stopped = true;
            try {
                while (handedOver) queueLock.wait(); // a batch's drain is between the queue and inFlight
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted waiting for the standby's batch");
            }
        }
        synchronized (this) {
            long t1 = System.nanoTime();
            List<StandbyTail.Transition> tail;
            synchronized (queueLock) {
                tail = new ArrayList<>(inFlight == null ? List.of() : inFlight.transitions());
                inFlight = null;
                tail.addAll(queue);
                queue.clear();
            }
            if (slots == null) return false;
            String gap = StandbyTail.gap(tail, heldGeneration, heldEpoch, generation, epoch);
            if (gap != null) {
                log.warn("standby image not used for the restore: {}", gap);
                return false;
            }
            Map<String, long[]> changed = StandbyTail.changedPages(tail);
            long t2 = System.nanoTime();
            Map<String, ParentLayout> layouts = new HashMap<>();
            slots.forEach((name, sl) -> layouts.put(name, sl.layout()));
            StandbyRestoreImage.Written w = StandbyRestoreImage.write(target, plan, layouts, changed, parent);
            long t3 = System.nanoTime();
            restorePhases = new RestorePhases(ms(t1 - t0), tail.size(), ms(t2 - t1), w.copiedPages(), ms(t3 - t2), ms(w.filesNanos()));
            log.info("standby image: restore image written: {}", restorePhases);
            return true;
        }
    }

    /** A batch stopped because a restore began (not a failure: the parent stays usable for that restore). */
    private static final class Aborted extends IOException {
        Aborted() {
            super("a restore began");
        }
    }

    private static double ms(long nanos) {
        return Math.round(nanos / 1e4) / 100.0;
    }

    /**
     * Where a failover's restore image went: waiting for a batch in progress to stop, finding the pages of the
     * {@code tailEpochs} the parent had not caught up, and writing the restore image ({@code copiedPages} of it
     * copied from the store: those pages, and those outside the parent's layout; {@code filesMs} of it the files other
     * than pages and pagemaps).
     */
    public record RestorePhases(double batchWaitMs, int tailEpochs, double tailMs, long copiedPages, double writeMs, double filesMs) {
    }

    /** The last {@link #prepareRestore}'s phases, null before one succeeded. */
    public RestorePhases restorePhases() {
        return restorePhases;
    }

    /** Present pages of {@code plan} the parent has no slot for. */
    private long extraPages(ImagePlan plan) {
        long n = 0;
        for (var e : plan.pagemaps.entrySet()) {
            Slots s = slots.get(e.getKey());
            for (Pagemap.Run r : e.getValue().runs()) {
                if (!r.present()) continue;
                long first = r.vaddr() >>> 12;
                n += r.nrPages() - (s == null ? 0 : s.layout().covered(first, first + r.nrPages()));
            }
        }
        return n;
    }

    private static Map<String, Slots> readSlots(Path parent) throws IOException {
        Map<String, Slots> m = new HashMap<>();
        try (var s = Files.list(parent)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (!Pagemap.isPagemapName(n)) continue;
                Pagemap pm = Pagemap.parse(Files.readAllBytes(p));
                m.put(n, new Slots(ParentLayout.of(pm), parent.resolve(pm.pagesFileName())));
            }
        }
        return m;
    }

    /** After a failed update: the parent may be torn, so it is never used again; the next batch rebuilds it. */
    private void tear() {
        failures++;
        slots = null;
        heldGeneration = heldEpoch = -1;
        try {
            markNotCurrent();
        } catch (IOException e) {
            log.warn("standby image: cannot remove {}: {}", dir.resolve(CURRENT), e.toString());
        }
    }

    private void dropParent() throws IOException {
        slots = null;
        heldGeneration = heldEpoch = -1;
        markNotCurrent();
        ImageDirs.deleteTree(parent);
    }

    private void markNotCurrent() throws IOException {
        if (Files.deleteIfExists(dir.resolve(CURRENT))) StoreState.fsyncDir(dir);
    }

    private void markCurrent(long generation, long epoch) throws IOException {
        Path tmp = dir.resolve(CURRENT + ".tmp");
        try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            c.write(ByteBuffer.wrap((generation + " " + epoch + "\n").getBytes(StandardCharsets.US_ASCII)));
            c.force(true);
        }
        Files.move(tmp, dir.resolve(CURRENT), StandardCopyOption.ATOMIC_MOVE);
        StoreState.fsyncDir(dir);
        heldGeneration = generation;
        heldEpoch = epoch;
    }

    /** (generation, epoch) CURRENT names, or null if absent or unreadable. */
    private long[] readCurrent() {
        try {
            String[] f = Files.readString(dir.resolve(CURRENT), StandardCharsets.US_ASCII).trim().split(" ");
            return new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The epoch the parent is current at, -1 if none (tests, status); never waits for a batch. */
    public long currentEpoch() {
        return slots == null ? -1 : heldEpoch;
    }

    /**
     * Figures for the status: current epoch, batches, pages written in place, rebuilds, extra pages, failed updates,
     * parents given up or not laid out for want of space. Read without the lock: a rebuild holds it for seconds, and
     * the backup's timer (which also watches the heartbeat) must never wait for one.
     */
    public Map<String, Long> figures() {
        return Map.of("epoch", currentEpoch(), "batches", batches, "pagesWritten", pagesWritten, "rebuilds", rebuilds,
                "extraPages", extraPages, "failures", failures, "spaceSkips", spaceSkips);
    }

    /**
     * The store ran out of space: the parent, a second copy of the committed image, gives its space back so that the
     * next epoch (a full sync after the rejection) fits. It is laid out again once {@link #roomFor} allows.
     */
    void yieldSpace() {
        try {
            executor.execute(() -> {
                synchronized (this) {
                    if (stopped || !Files.exists(parent)) return;
                    spaceSkips++;
                    try {
                        dropParent();
                        log.warn("standby image dropped: the store ran out of space (a failover materializes from the store until it is laid out again)");
                    } catch (IOException e) {
                        log.warn("standby image: cannot drop it to free space: {}", e.toString());
                    }
                }
            });
        } catch (RejectedExecutionException e) {
            // the store is closing
        }
    }

    /**
     * Whether the store's file system can spare a parent of {@code bytes}: after it, an image's worth must stay free
     * for a full sync, so the standby (a cache) never makes the store reject an epoch it could have committed.
     */
    private boolean roomFor(long bytes) throws IOException {
        long usable = Files.getFileStore(dir).getUsableSpace();
        if (usable >= 2 * bytes) return true;
        if (spaceSkips++ % 100 == 0) {
            log.warn("standby image not laid out: {} MiB free, a {} MiB parent needs twice that (a failover materializes from the store)",
                    usable >> 20, bytes >> 20);
        }
        return false;
    }

    /** Whether a restore began (or the store closed): batches stop at their next page (tests). */
    boolean stopping() {
        return stopped;
    }

    /**
     * Stops background work (the store closes) and waits for a batch in progress to stop at its next check, so that
     * nothing writes under the directory once the store is closed (a store opened on it next clears its temp dir).
     */
    void stop() throws InterruptedException {
        synchronized (queueLock) {
            stopped = true;
            while (handedOver || running) queueLock.wait();
        }
    }
}
