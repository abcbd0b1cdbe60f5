package io.checkpointd.restore.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standby image against the reference model of {@link DeltaStoreRandomEpochsTest}: the restore image it gives
 * (its pagemaps resolved through the parent link, as CRIU reads them) is exactly the committed image, whether the
 * background had caught up or the tail was finished at failover, across full syncs, compactions and reopens; a
 * standby torn mid-update is never used, neither by the daemon that tore it nor after a restart.
 */
class StandbyImageTest {
    @TempDir
    Path tmp;

    @AfterEach
    void reset() {
        CommitFault.reset();
    }

    @Test
    void restoreImageFromTheStandbyIsTheCommittedImage() throws Exception {
        Random rnd = new Random(7);
        DeltaStoreRandomEpochsTest.Model img = new DeltaStoreRandomEpochsTest.Model();
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        Path prev = null;
        int fromStandby = 0;
        for (int epoch = 1; epoch <= 90; epoch++) {
            img.evolve(rnd);
            prev = commit(store, img, prev, epoch, epoch == 1 || epoch == 45);
            if (epoch % 6 == 0) awaitStandby(store);
            if (epoch % 9 == 0) { // a failover now: right after catching up, or with a tail of 1 to 3 epochs
                Path out = tmp.resolve("restore-" + epoch);
                boolean standby = store.materializeForRestore(out);
                if (standby) fromStandby++;
                assertRestores(out, img, "epoch " + epoch + (standby ? " from the standby" : " materialized"));
                assertThat(Files.isSymbolicLink(out.resolve("parent"))).isEqualTo(standby);
                ImageDirs.deleteTree(out);
                store.close(); // a restore stops the standby for good: go on with the store reopened
                store = ImageStore.open(storeDir);
            }
        }
        store.close();
        assertThat(fromStandby).as("failovers served by the standby").isGreaterThanOrEqualTo(8);
    }

    @Test
    void aStandbyTornMidUpdateIsNotUsed() throws Exception {
        Random rnd = new Random(11);
        DeltaStoreRandomEpochsTest.Model img = new DeltaStoreRandomEpochsTest.Model();
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        Path prev = laidOutAtEpoch5(store, img, rnd); // every page has a slot
        // the next update dies half way: some slots hold epoch 6, the others epoch 5
        CommitFault.midStandbyUpdate = () -> {
            throw new IllegalStateException("planted: the update stops half way");
        };
        for (var pages : img.memory.values()) for (var e : pages.entrySet()) e.getValue()[0] ^= 1; // every page changes
        prev = commit(store, img, prev, 6, false);
        awaitFigure(store, "failures", 1);
        CommitFault.reset();
        assertThat(Files.exists(storeDir.resolve("standby/CURRENT"))).as("CURRENT of a torn standby").isFalse();
        Path out = tmp.resolve("restore-torn");
        assertThat(store.materializeForRestore(out)).as("restored from the torn standby").isFalse();
        assertRestores(out, img, "after a torn update");
        ImageDirs.deleteTree(out);
        store.close();

        // a daemon dying mid-update: its parent's slots are mixed; a restart must not trust it
        store = ImageStore.open(storeDir);
        awaitStandby(store);
        store.close();
        tearOnDisk(storeDir);
        store = ImageStore.open(storeDir);
        Path again = tmp.resolve("restore-reopened");
        store.materializeForRestore(again);
        assertRestores(again, img, "reopened after a torn update");
        store.close();
    }

    @Test
    void aRestoreStopsABatchHalfWayAndTakesItsPagesFromTheStore() throws Exception {
        Random rnd = new Random(13);
        DeltaStoreRandomEpochsTest.Model img = new DeltaStoreRandomEpochsTest.Model();
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        Path prev = laidOutAtEpoch5(store, img, rnd);
        // the batch for epoch 6 stops half way through its slots until the restore has begun
        java.util.concurrent.CountDownLatch halfWay = new java.util.concurrent.CountDownLatch(1);
        ImageStore s = store;
        CommitFault.midStandbyUpdate = () -> {
            halfWay.countDown();
            while (!s.standby().stopping()) Thread.onSpinWait();
        };
        for (var pages : img.memory.values()) for (var e : pages.entrySet()) e.getValue()[0] ^= 1; // every page changes
        prev = commit(store, img, prev, 6, false);
        assertThat(halfWay.await(20, java.util.concurrent.TimeUnit.SECONDS)).as("the batch reached half way").isTrue();
        img.evolve(rnd);
        commit(store, img, prev, 7, false); // queued behind the stopped batch
        Path out = tmp.resolve("restore-mid-batch");
        assertThat(store.materializeForRestore(out)).as("restored from the standby").isTrue();
        assertRestores(out, img, "a restore during a batch");
        assertThat(store.standby().restorePhases().tailEpochs()).as("epochs not caught up: the stopped batch's and the queued one").isEqualTo(2);
        assertThat(store.standby().figures().get("failures")).isZero();
        store.close();
    }

    /** Epochs 1 to 5 (1 and 5 full syncs) committed and the standby laid out at 5; returns epoch 5's image. */
    private Path laidOutAtEpoch5(ImageStore store, DeltaStoreRandomEpochsTest.Model img, Random rnd) throws Exception {
        Path prev = null;
        for (int epoch = 1; epoch <= 5; epoch++) {
            img.evolve(rnd);
            prev = commit(store, img, prev, epoch, epoch == 1 || epoch == 5);
        }
        awaitStandby(store);
        return prev;
    }

    /** As a crash mid-update leaves it: CURRENT gone (it is removed first), some slots overwritten. */
    private static void tearOnDisk(Path storeDir) throws IOException {
        Path parent = storeDir.resolve("standby/parent");
        Files.deleteIfExists(storeDir.resolve("standby/CURRENT"));
        try (Stream<Path> s = Files.list(parent)) {
            for (Path p : s.filter(p -> Pagemap.isPagesName(p.getFileName().toString())).toList()) {
                try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                    if (f.length() > 0) f.write(new byte[] {42, 42, 42});
                }
            }
        }
    }

    private Path commit(ImageStore store, DeltaStoreRandomEpochsTest.Model img, Path prev, int epoch, boolean full) throws IOException {
        Path cur = tmp.resolve("primary-" + epoch);
        img.write(cur);
        List<EpochRecord> records = new ArrayList<>();
        DeltaComputer.Result r = DeltaComputer.compute(full ? null : prev, cur, records::add);
        DeltaStoreRoundTripTest.commit(store, 1, epoch, full ? EpochBegin.FULL : epoch - 1, records.stream().map(EpochRecord::encode).toList(), r);
        if (prev != null) ImageDirs.deleteTree(prev);
        return cur;
    }

    private static void awaitStandby(ImageStore store) throws InterruptedException {
        awaitFigure(store, "epoch", store.committedEpoch());
    }

    private static void awaitFigure(ImageStore store, String name, long value) throws InterruptedException {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (store.standby().figures().get(name) != value) {
            assertThat(System.nanoTime() - deadline).as("standby " + name + " reaches " + value + ": " + store.standby().figures()).isNegative();
            Thread.sleep(5);
        }
    }

    /** What CRIU would restore from {@code dir} (pages through PE_PARENT from the parent link) equals the model. */
    static void assertRestores(Path dir, DeltaStoreRandomEpochsTest.Model img, String what) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.toList()) {
                String n = p.getFileName().toString();
                if (n.equals("parent") || Pagemap.isPagesName(n) || Pagemap.isPagemapName(n)) continue;
                files.put(n, Files.readAllBytes(p));
            }
        }
        assertThat(files.keySet()).as(what + ": files").isEqualTo(img.files.keySet());
        for (var e : img.files.entrySet()) assertThat(files.get(e.getKey())).as(what + ": " + e.getKey()).isEqualTo(e.getValue());
        for (var e : img.memory.entrySet()) {
            TreeMap<Long, byte[]> got = pages(dir, e.getKey());
            assertThat(got.keySet()).as(what + ": present pages of " + e.getKey()).isEqualTo(e.getValue().keySet());
            for (var p : e.getValue().entrySet()) {
                assertThat(got.get(p.getKey())).as(what + ": page 0x%x of %s", p.getKey(), e.getKey()).isEqualTo(p.getValue());
            }
        }
    }

    /** vaddr → content of every page {@code pagemap} in {@code dir} restores, as CRIU's page-read resolves it. */
    private static TreeMap<Long, byte[]> pages(Path dir, String pagemap) throws IOException {
        TreeMap<Long, byte[]> out = new TreeMap<>();
        Pagemap pm = Pagemap.parse(Files.readAllBytes(dir.resolve(pagemap)));
        byte[] data = Files.readAllBytes(dir.resolve(pm.pagesFileName()));
        TreeMap<Long, byte[]> parent = null;
        for (Pagemap.Run r : pm.runs()) {
            for (long i = 0; i < r.nrPages(); i++) {
                long v = r.vaddr() + i * Pagemap.PAGE_SIZE;
                if ((r.flags() & Pagemap.PE_PARENT) != 0) {
                    if (parent == null) parent = pages(dir.resolve("parent"), pagemap);
                    assertThat(parent).as("parent has page 0x%x", v).containsKey(v);
                    out.put(v, parent.get(v));
                } else if (r.present()) {
                    int at = (int) ((r.dataIndex() + i) * Pagemap.PAGE_SIZE);
                    out.put(v, java.util.Arrays.copyOfRange(data, at, at + Pagemap.PAGE_SIZE));
                }
            }
        }
        return out;
    }
}
