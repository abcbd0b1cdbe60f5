package io.checkpointd.restore.store;

import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup's image store: the last committed epoch of one protected process, always restorable.
 *
 * <pre>
 * DIR/STATE          committed generation + epoch, base dir, logged epochs, fenced generation (atomic replace)
 * DIR/base-B/        a materialized CRIU image of epoch B
 * DIR/log/epoch-N.d  the verified delta of epoch N (records as received, XOR pages resolved), B &lt; N ≤ committed
 * DIR/log/*.tmp      an epoch being received: ignored and removed at open
 * </pre>
 *
 * An epoch is staged in a temp log file, verified (record count, digest, every page of the new image has data,
 * the manifest matches), renamed and applied in memory ({@link EpochWriter#apply}: the next epoch may follow it);
 * {@link #sync()} then fsyncs the log files of every epoch applied since the last sync and only then names them
 * in STATE, once for the group: a crash at any instant leaves STATE naming a complete image, the last durable one.
 * Once the log is worth it ({@link Compaction#due}) it is folded into a new base in the background
 * ({@link Compaction}), so the store holds one image, not a pile that grows with time.
 */
public final class ImageStore {
    private static final Logger log = LoggerFactory.getLogger(ImageStore.class);

    private final Path dir;
    private final Path logDir;
    /** Where data dirs may be restored; checked when they arrive and again before they are put back. */
    private final DataRoots dataRoots;
    /**
     * The committed state: every verified, applied epoch (what the next delta must follow). Immutable and volatile,
     * so status and the heartbeat read it without waiting for an apply or a compaction to release the store lock.
     */
    private volatile StoreState state;
    /** What STATE on disk says: {@link #state} less the applied epochs whose log files are not yet fsynced. */
    private volatile StoreState durable;
    /** Applied delta epochs not yet durable, oldest first: their log files, renamed but not fsynced. */
    private final java.util.ArrayDeque<Unsynced> unsynced = new java.util.ArrayDeque<>();
    /** One {@link #sync()} at a time (taken before the store lock, never inside it). */
    private final Object syncLock = new Object();
    private ImagePlan plan;
    /** The committed image kept materialized for failover, caught up behind the commits. */
    private StandbyImage standby;
    /** The data dirs' replica: committed with the image, see {@link DataReplica}. */
    private DataReplica data;
    private EpochWriter open;
    private boolean closed;
    private final Compaction compaction;

    private ImageStore(Path dir, DataRoots dataRoots) {
        this.dir = dir;
        this.logDir = dir.resolve("log");
        this.dataRoots = dataRoots;
        this.compaction = new Compaction(this, dir);
    }

    /** As {@link #open(Path, DataRoots)} with no data root: every epoch naming a data dir is rejected. */
    public static ImageStore open(Path dir) throws IOException {
        return open(dir, DataRoots.NONE);
    }

    /**
     * Opens (creating if needed) the store in {@code dir}, removing anything a crash left half-written. Epochs
     * naming a data dir outside {@code dataRoots} are rejected before anything of them is written.
     */
    public static ImageStore open(Path dir, DataRoots dataRoots) throws IOException {
        ImageStore s = new ImageStore(dir, dataRoots);
        Files.createDirectories(s.logDir);
        s.state = StoreState.read(dir);
        s.durable = s.state;
        s.removeDebris();
        s.rebuildPlan();
        s.standby = StandbyImage.open(dir, s.compaction.executor(), s::standbyTarget, s.plan, s.state.generation(), s.state.epoch());
        s.standby.start();
        return s;
    }

    public long committedGeneration() {
        return state.generation();
    }

    /** The committed epoch (verified and applied, durable or not yet), or -1 if the store holds nothing restorable yet. */
    public long committedEpoch() {
        return state.epoch();
    }

    /** The epoch that STATE on disk names: what a crash of this host now would leave, -1 if none. */
    public long durableEpoch() {
        return durable.epoch();
    }

    /** A log file applied in memory, waiting for its fsync. */
    private record Unsynced(long generation, long epoch, FileChannel file) { }

    /**
     * Makes every epoch applied so far durable: fsyncs their log files (outside the store lock, so epochs go on being
     * received and applied meanwhile), then the log directory, then writes STATE once for all of them: one group
     * commit for every epoch that arrived since the last one.
     *
     * @return the epoch now durable
     */
    public long sync() throws IOException {
        synchronized (syncLock) {
            java.util.List<Unsynced> batch;
            synchronized (this) {
                if (unsynced.isEmpty()) return durable.epoch();
                batch = new java.util.ArrayList<>(unsynced);
            }
            for (Unsynced u : batch) {
                try {
                    u.file().force(true);
                } catch (java.nio.channels.ClosedChannelException e) {
                    // a locked sync (fence, materialize, full epoch) made it durable meanwhile
                }
            }
            StoreState.fsyncDir(logDir);
            synchronized (this) {
                Unsynced last = batch.get(batch.size() - 1);
                long upTo = last.epoch();
                for (Unsynced u : batch) if (unsynced.remove(u)) u.file().close(); // a full epoch may have cleared them
                // unless a full epoch replaced them meanwhile (then STATE already names it), name the group in STATE
                if (state.generation() == last.generation() && durable.epoch() < upTo && state.log().contains(upTo)) writeDurable(state.upTo(upTo));
                if (compaction.due(state, plan) && !compaction.running() && !closed) {
                    // a base folds in durable epochs only; under steady load some epoch is always in flight, so
                    // once per compaction the newest ones are synced under the lock
                    syncLocked();
                    maybeCompact();
                }
                return durable.epoch();
            }
        }
    }

    /** As {@link #sync()}, under the store lock (the store's own rare paths: fence, materialize, a full epoch). */
    private void syncLocked() throws IOException {
        if (unsynced.isEmpty()) return;
        for (Unsynced u : unsynced) u.file().force(true);
        StoreState.fsyncDir(logDir);
        writeDurable(state);
        for (Unsynced u : unsynced) u.file().close();
        unsynced.clear();
    }

    private void writeDurable(StoreState s) throws IOException {
        s.write(dir);
        durable = s;
    }

    public long fencedGeneration() {
        return state.fencedGeneration();
    }

    /** Durably records that {@code generation} and every older one are fenced: never committed or acked again. */
    public synchronized void fence(long generation) throws IOException {
        if (generation <= state.fencedGeneration()) return;
        syncLocked(); // everything acknowledged is durable before the failover that follows a fence
        StoreState next = state.withFenced(generation);
        writeDurable(next);
        state = next;
    }

    /** Name → size of every file of the committed image. */
    public synchronized Map<String, Long> manifest() {
        return plan.manifest();
    }

    /** Writes the committed image into {@code target} (a new directory), ready for {@code criu restore}. */
    public synchronized void materialize(Path target) throws IOException {
        if (state.empty()) throw new IOException("the store in " + dir + " holds no committed epoch");
        syncLocked(); // what is restored is what a restart of the backup would find
        plan.materialize(target, false);
    }

    /**
     * As {@link #materialize}, for {@code criu restore}: from the {@link StandbyImage} when it can serve (then only
     * what it had not caught up yet is written, and it changes no more), else the whole image.
     *
     * @return whether the standby image served it
     */
    public synchronized boolean materializeForRestore(Path target) throws IOException {
        if (state.empty()) throw new IOException("the store in " + dir + " holds no committed epoch");
        syncLocked();
        if (standby.prepareRestore(target, plan, state.generation(), state.epoch())) return true;
        plan.materialize(target, false);
        return false;
    }

    /** The standby image's figures (see {@link StandbyImage#figures}). */
    public StandbyImage standby() {
        return standby;
    }

    private synchronized StandbyImage.Target standbyTarget() {
        return new StandbyImage.Target(state.generation(), state.epoch(), plan, standby.drainQueue());
    }

    /** Data dir index → its path on the primary, in the committed image (empty: no data dirs). */
    public synchronized Map<Integer, String> dataDirs() {
        return data.roots();
    }

    /**
     * Writes the committed data dirs, each at the path {@code at} gives for its path on the primary (emptied first;
     * at failover, the path itself), ready for {@code criu restore}.
     */
    public synchronized void materializeDataDirs(java.util.function.Function<String, Path> at) throws IOException {
        if (state.empty()) throw new IOException("the store in " + dir + " holds no committed epoch");
        data.materialize(at);
    }

    /**
     * Writes the committed data dirs back at their own paths (failover), each emptied first, after checking every
     * one against the data roots: if one is refused, nothing is touched.
     */
    public synchronized void restoreDataDirs() throws IOException {
        if (state.empty()) throw new IOException("the store in " + dir + " holds no committed epoch");
        for (String root : data.roots().values()) dataRoots.check(root);
        data.materialize(Path::of);
    }

    /**
     * Starts receiving epoch {@code epoch} of {@code generation}.
     *
     * @throws EpochRejectedException if the epoch is stale, out of order or not based on the committed epoch
     */
    public synchronized EpochWriter begin(long generation, long epoch, EpochBegin begin) throws IOException {
        if (generation <= state.fencedGeneration()) {
            throw new EpochRejectedException("generation " + generation + " is fenced (fenced up to " + state.fencedGeneration() + ")");
        }
        if (generation < state.generation()) {
            throw new EpochRejectedException("generation " + generation + " is older than the committed " + state.generation());
        }
        if (begin.full()) {
            if (generation == state.generation() && epoch <= state.epoch()) {
                throw new EpochRejectedException("epoch " + epoch + " is not after the committed " + state.epoch());
            }
        } else if (state.empty() || generation != state.generation() || begin.baseEpoch() != state.epoch()
                || epoch <= state.epoch()) {
            throw new EpochRejectedException("delta epoch " + epoch + " on base " + begin.baseEpoch() + " (gen " + generation
                    + ") does not follow the committed epoch " + state.epoch() + " (gen " + state.generation() + ")");
        }
        if (open != null) open.abort();
        compaction.removeLeftovers(state);
        open = new EpochWriter(generation, epoch, begin.full());
        return open;
    }

    /** One epoch being received: records are appended to a temp log file and committed all or nothing. */
    public final class EpochWriter {
        private final long generation;
        private final long epoch;
        private final boolean full;
        private final Path tmp;
        private final Path fin;
        private final FileChannel out;
        private final MessageDigest digest = sha256();
        private final DeltaIndex index;
        private final DataReplica.Epoch dataEpoch;
        /** The data roots this epoch's records name, each checked once. */
        private final DataRoots.EpochCheck rootsChecked;
        private int records;
        private long position;
        private boolean done;

        private EpochWriter(long generation, long epoch, boolean full) throws IOException {
            this.generation = generation;
            this.epoch = epoch;
            this.full = full;
            this.tmp = logDir.resolve("epoch-" + epoch + ".d.tmp");
            this.fin = logDir.resolve("epoch-" + epoch + ".d");
            this.index = new DeltaIndex(fin, epoch);
            this.dataEpoch = data.begin(full);
            this.rootsChecked = dataRoots.forEpoch(epoch);
            this.out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        }

        public long epoch() {
            return epoch;
        }

        public long generation() {
            return generation;
        }

        /**
         * Appends one EPOCH_DATA payload. The digest covers the payload as sent; the log holds it as the store
         * replays it: {@link EpochRecord.PagesXor} is resolved against the committed image here and logged as the
         * plain {@link EpochRecord.PageDelta} it stands for, so replay at open and compaction never need a base.
         *
         * @throws EpochRejectedException if an XOR record's base is not the committed image's page
         */
        public void add(byte[] payload) throws IOException {
            if (done) throw new IllegalStateException("epoch " + epoch + " already finished");
            EpochRecord r = EpochRecord.decode(payload);
            byte[] logged = payload;
            if (r instanceof EpochRecord.PagesXor x) {
                r = unXor(x);
                logged = r.encode();
            }
            if (r instanceof EpochRecord.DirRecord d) checkDataRoot(d);
            index.add(r, position + 4);
            dataEpoch.add(r, fin, position + 4, logged.length);
            digest.update(payload);
            records++;
            writeFully(ByteBuffer.allocate(4).putInt(0, logged.length));
            writeFully(ByteBuffer.wrap(logged));
        }

        /**
         * Rejects a record of a data dir outside the data roots: its DIR_ROOT, or in a delta epoch any record of a
         * committed data dir (the roots may have been narrowed since it was accepted).
         */
        private void checkDataRoot(EpochRecord.DirRecord d) throws EpochRejectedException {
            String root = d instanceof EpochRecord.DirRoot r ? r.root() : full ? null : data.roots().get(d.dir());
            if (root != null) rootsChecked.check(root);
        }

        /** The pages of {@code x} rebuilt on the committed image (see {@link XorPages}). */
        private EpochRecord.PageDelta unXor(EpochRecord.PagesXor x) throws IOException {
            if (full) throw new EpochRejectedException("epoch " + epoch + ": xor pages in a full epoch");
            synchronized (ImageStore.this) {
                return XorPages.resolve(plan, x, epoch);
            }
        }

        private void writeFully(ByteBuffer b) throws IOException {
            try {
                while (b.hasRemaining()) position += out.write(b);
            } catch (IOException e) {
                throw spaceNoted(e);
            }
        }

        /** Verifies the epoch against {@code end} and the committed image, then commits it durably. */
        public void commit(EpochEnd end) throws IOException {
            apply(end);
            sync();
        }

        /**
         * Verifies the epoch against {@code end} and the committed image and applies it: the next epoch may follow
         * it and a restore includes it, but its log file is durable only after {@link #sync()} (or a fence, a
         * materialize, a full epoch). A full epoch is made durable here, with every epoch before it.
         */
        public void apply(EpochEnd end) throws IOException {
            synchronized (ImageStore.this) {
                if (done) throw new IllegalStateException("epoch " + epoch + " already finished");
                try {
                    if (end.records() != records) throw new EpochRejectedException("epoch " + epoch + ": " + records + " records, sender says " + end.records());
                    if (!Arrays.equals(digest.digest(), end.digest())) throw new EpochRejectedException("epoch " + epoch + ": digest mismatch");
                    ImagePlan next = index.applyTo(plan, full);
                    if (!next.manifest().equals(new TreeMap<>(end.manifest()))) {
                        throw new EpochRejectedException("epoch " + epoch + ": image does not match the sender's manifest");
                    }
                    DataReplica nextData = dataEpoch.result(data);
                    CommitFault.beforeDurable.run();
                    // renamed before fsync: until STATE names it (after the group's fsync), a crash leaves it debris
                    Files.move(tmp, fin, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    long base = state.epoch();
                    StoreState committed = state.withLogged(generation, epoch, full);
                    if (full) {
                        out.force(true);
                        out.close();
                        for (Unsynced u : unsynced) u.file().close(); // replaced by this image: never needed again
                        unsynced.clear();
                        StoreState.fsyncDir(logDir);
                        writeDurable(committed);
                    } else {
                        unsynced.addLast(new Unsynced(generation, epoch, out));
                    }
                    state = committed;
                    standby.committed(generation, base, epoch, full, plan, next);
                    plan = next;
                    data = nextData;
                    compaction.logged(full, position);
                    done = true;
                    open = null;
                    if (full) removeDebris();
                } catch (IOException e) {
                    abort();
                    throw spaceNoted(e);
                } catch (RuntimeException e) {
                    abort();
                    throw e;
                }
                maybeCompact();
            }
        }

        /** Drops the epoch; the committed image is untouched. */
        public void abort() {
            synchronized (ImageStore.this) {
                if (done) return; // applied: its log file is the store's now
                done = true;
                if (open == this) open = null;
                try {
                    out.close();
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    log.warn("could not remove {}: {}", tmp, e.toString());
                }
            }
        }
    }

    /** A write failed: on a full disk the standby's parent gives its space back, so the next (full) epoch fits. */
    synchronized IOException spaceNoted(IOException e) {
        if (!String.valueOf(e.getMessage()).contains("No space left")) return e;
        standby.yieldSpace();
        // what a compaction replaced but could not delete (a read-only or failing disk at that moment) is freed now:
        // a full epoch may need exactly that space
        try {
            List<Path> garbage = StoreDebris.list(dir, state, open == null ? null : open.tmp);
            if (!garbage.isEmpty()) {
                StoreDebris.delete(garbage);
                log.warn("store: out of space: deleted {} files no longer part of the image", garbage.size());
            }
        } catch (IOException de) {
            e.addSuppressed(de);
        }
        return e;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Starts folding the log into a new base when it has grown enough, in the background ({@link Compaction}):
     * materializing reads only files the snapshot plan references, and the store lock is held just for the rename
     * and the STATE switch ({@link #adoptBase}).
     */
    private void maybeCompact() {
        // the base folds in only durable epochs: STATE may then name it (see adoptBase)
        if (compaction.running() || closed || !unsynced.isEmpty() || !compaction.due(state, plan)) return;
        // plans are never mutated in place, so the snapshot stays valid; nor are replicas
        compaction.start(new Compaction.Snapshot(plan, data, state.epoch(), state.base()));
    }

    /**
     * Makes {@code tmp}, the base a compaction built from {@code s}, the store's base {@code name}: renamed, named in
     * STATE. Under the store lock; the lock is not held while it is built, nor while the log files it folded in and
     * the old base are deleted (the caller deletes what this returns: thousands of files, an image's worth of bytes).
     *
     * @return the garbage to delete, or null if a full sync replaced the image meanwhile (then the base, moot, is
     *         removed)
     */
    synchronized List<Path> adoptBase(Compaction.Snapshot s, String name, Path tmp, ImagePlan relocated) throws IOException {
        if (closed || !state.base().equals(s.base()) || !state.log().contains(s.epoch())) {
            ImageDirs.deleteTree(tmp); // a full sync replaced the image meanwhile: this base is moot
            return null;
        }
        ImagePlan rebased = plan.rebase(s.plan(), relocated); // proportional to the epochs since the snapshot
        Path target = dir.resolve(name);
        ImageDirs.deleteTree(target);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        StoreState.fsyncDir(dir);
        writeDurable(durable.withBase(name, s.epoch())); // durable is at or past epoch: only durable epochs compact
        state = state.withBase(name, s.epoch());
        List<Path> garbage = StoreDebris.list(dir, state, open == null ? null : open.tmp);
        plan = rebased; // the plan's references onto the new base and the remaining log, which is not re-read
        if (!s.data().isEmpty() || !data.isEmpty()) data = StoreReplay.data(dir, state); // the replica onto the new base's data
        compaction.rebased(state);
        return garbage;
    }

    /** Waits until no compaction runs (tests, and before close). */
    public synchronized void awaitCompaction() throws InterruptedException {
        while (compaction.running()) wait();
    }

    /** Stops background compaction (waiting for a running one); the store must not be used afterwards. */
    public void close() throws InterruptedException {
        synchronized (this) {
            closed = true;
        }
        standby.stop();
        awaitCompaction();
        compaction.shutdown(); // a standby batch stops at its next check
    }

    /** Removes base dirs, log files and temp files that {@link #state} does not name (see {@link StoreDebris}). */
    private void removeDebris() throws IOException {
        StoreDebris.remove(dir, state, open == null ? null : open.tmp);
    }

    private void rebuildPlan() throws IOException {
        StoreReplay.Replayed r = StoreReplay.all(dir, state);
        plan = r.plan();
        data = r.data();
        compaction.replayed(r.logBytes());
    }
}
