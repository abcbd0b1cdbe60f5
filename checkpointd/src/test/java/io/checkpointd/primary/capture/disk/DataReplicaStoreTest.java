package io.checkpointd.primary.capture.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.linux.inotify.DirWatcher;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.restore.store.CommitFault;
import io.checkpointd.restore.store.DataRoots;
import io.checkpointd.restore.store.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A data dir's changes, captured by the tracker from inotify hints, through the backup's store: every committed
 * epoch materializes to the directory as it was at that capture, across reopen (replay of the log), compaction
 * (fold into a new base with hard links) and commits that crash before they are durable.
 */
class DataReplicaStoreTest {
    /** These tests are about replication, not where data dirs may go (DataRootsTest): every root is allowed. */
    private static final DataRoots ANY_ROOT = DataRoots.of(List.of(Path.of("/")));

    @TempDir
    Path tmp;

    /** Every store a test opened, closed after it: a store's standby image is written behind its commits. */
    private final List<ImageStore> stores = new ArrayList<>();

    private ImageStore open(Path dir, DataRoots roots) throws IOException {
        ImageStore s = ImageStore.open(dir, roots);
        stores.add(s);
        return s;
    }

    @AfterEach
    void closeStores() throws InterruptedException {
        for (ImageStore s : stores) s.close();
    }

    @AfterEach
    void resetFaults() {
        CommitFault.reset();
    }

    @Test
    void everyCommittedEpochMaterializesAsCapturedAcrossReopenCompactionAndCrashes() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("primary/data"));
        Path storeDir = tmp.resolve("store");
        Random rnd = new Random(5);
        RandomOps ops = new RandomOps(rnd, src);
        ops.populate();
        ImageStore store = open(storeDir, ANY_ROOT);
        Path expected = tmp.resolve("expected");
        try (DirWatcher w = DirWatcher.watch(src)) {
            DataDirTracker tracker = new DataDirTracker(src);
            long epoch = 0;
            int crashes = 0;
            for (int i = 0; i < 80; i++) {
                if (i > 0) for (int k = rnd.nextInt(4); k >= 0; k--) ops.step();
                List<EpochRecord> recs = new ArrayList<>();
                boolean full = epoch == 0;
                if (full) recs.add(new EpochRecord.DirRoot(0, "/srv/data"));
                for (DirChange c : tracker.capture(w.drain())) recs.add(DataDirs.toRecord(0, c));
                long n = epoch + 1;
                if (i % 13 == 12) {
                    // the store dies after verifying, before anything is durable: the replica stays at the last epoch
                    CommitFault.beforeDurable = () -> {
                        throw new IllegalStateException("crash");
                    };
                    ImageStore s0 = store;
                    assertThatThrownBy(() -> commit(s0, n, full, recs)).hasMessage("crash");
                    CommitFault.reset();
                    store.close();
                    store = open(storeDir, ANY_ROOT);
                    assertThat(store.committedEpoch()).isEqualTo(epoch);
                    assertMaterializes(store, expected, "after a crash in epoch " + n);
                    crashes++;
                    // the primary's tracker moved on: as after a NACK, the next epoch starts over in full
                    tracker = new DataDirTracker(src);
                    w.drain();
                    List<EpochRecord> again = new ArrayList<>(List.of(new EpochRecord.DirRoot(0, "/srv/data")));
                    for (DirChange c : tracker.capture(w.drain())) again.add(DataDirs.toRecord(0, c));
                    commit(store, n, false, again);
                } else {
                    commit(store, n, full, recs);
                }
                epoch = n;
                ImageDirs.deleteTree(expected);
                copy(src, expected);
                if (i % 9 == 8) {
                    store.close();
                    store = open(storeDir, ANY_ROOT);
                }
                try {
                    assertMaterializes(store, expected, "epoch " + n);
                } catch (IOException e) {
                    throw new AssertionError("epoch " + n + " i " + i + " recs " + recs, e);
                }
            }
            assertThat(crashes).isPositive();
            store.awaitCompaction();
            assertThat(Files.list(storeDir).map(p -> p.getFileName().toString()).filter(s -> s.startsWith("base-")).toList())
                    .as("the log was folded into a base with the data dir").hasSize(1);
            store.close();
            ImageStore reopened = open(storeDir, ANY_ROOT);
            assertThat(reopened.dataDirs()).isEqualTo(Map.of(0, "/srv/data"));
            assertMaterializes(reopened, expected, "reopened at the end");
        }
    }

    @Test
    void recordsThatDoNotFitTheTreeAreRejectedAndNothingChanges() throws Exception {
        ImageStore store = open(tmp.resolve("store"), ANY_ROOT);
        commit(store, 1, true, List.of(new EpochRecord.DirRoot(0, "/d"), new EpochRecord.DirMkdir(0, "a", 0755),
                new EpochRecord.DirSymlink(0, "l", "/etc"), new EpochRecord.DirCreate(0, "a/f", 0644),
                new EpochRecord.DirResize(0, "a/f", 10)));
        List<List<EpochRecord>> bad = List.of(
                List.of(new EpochRecord.DirCreate(0, "l/passwd", 0644)), // through a symlink
                List.of(new EpochRecord.DirCreate(0, "a/f", 0644)), // exists
                List.of(new EpochRecord.DirBlocks(0, "a/f", 8, new byte[4])), // past the end
                List.of(new EpochRecord.DirDelete(0, "a")), // not empty
                List.of(new EpochRecord.DirRename(0, "nope", "x")), // no source
                List.of(new EpochRecord.DirDelete(1, "a"))); // no such data dir
        for (List<EpochRecord> b : bad) {
            assertThatThrownBy(() -> commit(store, 2, false, b)).as(b.toString()).isInstanceOf(IOException.class);
        }
        assertThat(store.committedEpoch()).isEqualTo(1);
        Path out = tmp.resolve("out");
        store.materializeDataDirs(p -> out);
        assertThat(Files.size(out.resolve("a/f"))).isEqualTo(10);
        assertThat(Files.readSymbolicLink(out.resolve("l")).toString()).isEqualTo("/etc");
    }

    @Test
    void twoDataDirsInterleavedEachMaterializeAtTheirOwnPathAcrossAFold() throws Exception {
        Path storeDir = tmp.resolve("store");
        ImageStore store = open(storeDir, ANY_ROOT);
        commit(store, 1, true, List.of(new EpochRecord.DirRoot(0, "/srv/a"), new EpochRecord.DirRoot(1, "/srv/b"),
                new EpochRecord.DirCreate(0, "x", 0644), new EpochRecord.DirCreate(1, "x", 0600),
                new EpochRecord.DirResize(1, "x", 3), new EpochRecord.DirBlocks(1, "x", 0, new byte[] {1, 2, 3})));
        for (long n = 2; n <= 40; n++) { // past a fold
            commit(store, n, false, List.of(new EpochRecord.DirResize(0, "x", n), new EpochRecord.DirBlocks(0, "x", n - 1, new byte[] {(byte) n})));
        }
        // dir 1 starts over inside a delta epoch (its capture failed on the primary): its base copy no longer counts
        commit(store, 41, false, List.of(new EpochRecord.DirRoot(1, "/srv/b"), new EpochRecord.DirMkdir(1, "d", 0755)));
        store.awaitCompaction();
        store.close();
        store = open(storeDir, ANY_ROOT);
        assertThat(store.dataDirs()).isEqualTo(Map.of(0, "/srv/a", 1, "/srv/b"));
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        store.materializeDataDirs(p -> p.equals("/srv/a") ? a : b);
        byte[] x = Files.readAllBytes(a.resolve("x"));
        assertThat(x).hasSize(40);
        for (int i = 1; i < 40; i++) assertThat(x[i]).isEqualTo((byte) (i + 1));
        assertThat(Files.list(b).map(p -> p.getFileName().toString()).toList()).containsExactly("d");
    }

    @Test
    void aDataDirIsNeverMaterializedOverASystemDirectory() throws Exception {
        ImageStore store = open(tmp.resolve("store"), ANY_ROOT);
        commit(store, 1, true, List.of(new EpochRecord.DirRoot(0, "/etc")));
        assertThatThrownBy(() -> store.materializeDataDirs(Path::of)).hasMessageContaining("system directory");
        assertThat(Path.of("/etc/passwd")).exists();
    }

    private static void commit(ImageStore store, long n, boolean full, List<EpochRecord> recs) throws IOException {
        ImageStore.EpochWriter w = store.begin(1, n, new EpochBegin(full ? EpochBegin.FULL : n - 1, 0, 0));
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        try {
            for (EpochRecord r : recs) {
                byte[] p = r.encode();
                w.add(p);
                md.update(p);
            }
        } catch (IOException e) {
            w.abort();
            throw e;
        }
        w.commit(new EpochEnd(recs.size(), md.digest(), Map.of()));
    }

    private void assertMaterializes(ImageStore store, Path expected, String what) throws IOException {
        Path out = tmp.resolve("materialized");
        store.materializeDataDirs(p -> out);
        try {
            Trees.assertSame(expected, out);
        } catch (AssertionError e) {
            throw new AssertionError(what + ": " + e.getMessage(), e);
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        Process p = new ProcessBuilder("cp", "-a", "--sparse=always", from.toString(), to.toString()).inheritIO().start();
        try {
            if (p.waitFor() != 0) throw new IOException("cp failed");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }
}
