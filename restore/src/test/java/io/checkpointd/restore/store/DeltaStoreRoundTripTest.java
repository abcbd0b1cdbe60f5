package io.checkpointd.restore.store;

import org.junit.jupiter.api.AfterEach;
import static io.checkpointd.restore.store.StoreAssertions.assertSameImage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Primary-side deltas through the backup's store reproduce every epoch's image byte for byte. */
class DeltaStoreRoundTripTest {
    @TempDir
    Path tmp;

    /** Every store a test opened, closed after it: a store's standby image is written behind its commits. */
    private final List<ImageStore> stores = new ArrayList<>();

    private ImageStore open(Path dir) throws IOException {
        ImageStore s = ImageStore.open(dir);
        stores.add(s);
        return s;
    }

    @AfterEach
    void closeStores() throws InterruptedException {
        for (ImageStore s : stores) s.close();
    }

    @Test
    void everyCommittedEpochMaterializesIdentically() throws Exception {
        Random rnd = new Random(42);
        FakeImage img = new FakeImage();
        ImageStore store = open(tmp.resolve("store"));
        Path prev = null;
        long shippedPages = 0, totalPages = 0;
        for (int epoch = 1; epoch <= 80; epoch++) {
            img.evolve(rnd);
            Path cur = tmp.resolve("primary-" + epoch);
            img.write(cur);
            List<byte[]> payloads = new ArrayList<>();
            DeltaComputer.Result r = DeltaComputer.compute(prev, cur, rec -> payloads.add(rec.encode()));
            shippedPages += r.changedPages();
            totalPages += img.pages.size();
            commit(store, 1, epoch, prev == null ? EpochBegin.FULL : epoch - 1, payloads, r);
            assertThat(store.committedEpoch()).isEqualTo(epoch);
            if (epoch % 7 == 0) {
                store.close();
                store = open(tmp.resolve("store")); // as after a crash: replay from disk
            }
            assertSameImage(store, cur, "epoch " + epoch);
            if (prev != null) ImageDirs.deleteTree(prev);
            prev = cur;
        }
        assertThat(shippedPages).as("deltas ship changed pages only").isLessThan(totalPages / 2);
        store.awaitCompaction();
        try (Stream<Path> s = Files.list(tmp.resolve("store/log"))) {
            assertThat(s.count()).as("compaction bounds the log").isLessThanOrEqualTo(32);
        }
    }

    @Test
    void aBaseLeftByAFailedCompactionIsRemovedWhenTheNextEpochBegins() throws Exception {
        Random rnd = new Random(3);
        FakeImage img = new FakeImage();
        img.evolve(rnd);
        ImageStore store = open(tmp.resolve("store"));
        Path e1 = commitImage(store, img, 1, null);
        // what a compaction leaves when the disk turned read-only under it: its base, finished or not, not removable then
        Path debris = Files.createDirectories(tmp.resolve("store/base-9.tmp"));
        Files.write(debris.resolve("pages-1.img"), new byte[1 << 20]);
        Path stale = Files.createDirectories(tmp.resolve("store/base-8"));

        img.evolve(rnd);
        Path e2 = commitImage(store, img, 2, e1);
        assertThat(debris).as("the failed compaction's base").doesNotExist();
        assertThat(stale).as("a base STATE does not name").doesNotExist();
        assertSameImage(store, e2, "epoch 2");
    }

    @Test
    void aDeltaMissingAPageIsRejectedAndTheCommittedImageSurvives() throws Exception {
        Random rnd = new Random(7);
        FakeImage img = new FakeImage();
        img.evolve(rnd);
        ImageStore store = open(tmp.resolve("store"));
        Path e1 = commitImage(store, img, 1, null);

        for (int i = 0; i < 3; i++) img.pages.put(0x1000L * (1000 + i), new byte[4096]);
        Path e2 = tmp.resolve("e2");
        img.write(e2);
        List<byte[]> p2 = new ArrayList<>();
        DeltaComputer.Result r2 = DeltaComputer.compute(e1, e2, rec -> {
            if (!(rec instanceof EpochRecord.PageDelta)) p2.add(rec.encode());
        });
        assertThatThrownBy(() -> commit(store, 1, 2, 1, p2, withRecords(r2, p2.size())))
                .isInstanceOf(EpochRejectedException.class).hasMessageContaining("no data for page");
        assertThat(store.committedEpoch()).isEqualTo(1);
        assertSameImage(store, e1, "after a rejected epoch");
        store.close();
        assertSameImage(open(tmp.resolve("store")), e1, "reopened after a rejected epoch");
    }

    @Test
    void staleOutOfOrderAndFencedEpochsAreRefused() throws Exception {
        FakeImage img = new FakeImage();
        img.evolve(new Random(3));
        ImageStore store = open(tmp.resolve("store"));
        Path e1 = tmp.resolve("e1");
        img.write(e1);
        List<byte[]> p = new ArrayList<>();
        commit(store, 2, 5, EpochBegin.FULL, p, DeltaComputer.compute(null, e1, rec -> p.add(rec.encode())));
        assertThatThrownBy(() -> store.begin(2, 5, new EpochBegin(4, 0, 0))).isInstanceOf(EpochRejectedException.class);
        assertThatThrownBy(() -> store.begin(2, 7, new EpochBegin(6, 0, 0))).isInstanceOf(EpochRejectedException.class);
        assertThatThrownBy(() -> store.begin(1, 9, new EpochBegin(EpochBegin.FULL, 0, 0))).isInstanceOf(EpochRejectedException.class);
        store.fence(2);
        assertThatThrownBy(() -> store.begin(2, 6, new EpochBegin(5, 0, 0))).hasMessageContaining("fenced");
        store.close();
        assertThat(open(tmp.resolve("store")).fencedGeneration()).isEqualTo(2);
    }

    @Test
    void debrisOfACrashAtAnyStepOfACommitIsIgnoredAndRemovedAtOpen() throws Exception {
        Random rnd = new Random(11);
        FakeImage img = new FakeImage();
        img.evolve(rnd);
        Path storeDir = tmp.resolve("store");
        ImageStore store = open(storeDir);
        Path e1 = tmp.resolve("e1");
        img.write(e1);
        List<byte[]> p1 = new ArrayList<>();
        commit(store, 1, 1, EpochBegin.FULL, p1, DeltaComputer.compute(null, e1, rec -> p1.add(rec.encode())));
        img.evolve(rnd);
        Path e2 = tmp.resolve("e2");
        img.write(e2);
        List<byte[]> p2 = new ArrayList<>();
        DeltaComputer.Result r2 = DeltaComputer.compute(e1, e2, rec -> p2.add(rec.encode()));
        // crash 1: while receiving epoch 2 (a half-written temp log); crash 2: after the rename, before STATE
        ImageStore.EpochWriter w = store.begin(1, 2, new EpochBegin(1, 0, 0));
        w.add(p2.get(0));
        Files.write(storeDir.resolve("log/epoch-2.d"), new byte[] {0, 0, 0, 9, 1, 2});
        Files.write(storeDir.resolve("STATE.tmp"), "garbage".getBytes());
        Files.createDirectories(storeDir.resolve("base-99.tmp"));

        store.close();
        ImageStore reopened = open(storeDir);
        assertThat(reopened.committedEpoch()).isEqualTo(1);
        assertSameImage(reopened, e1, "after crash debris");
        try (Stream<Path> s = Files.list(storeDir.resolve("log"))) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).containsExactly("epoch-1.d");
        }
        assertThat(storeDir.resolve("STATE.tmp")).doesNotExist();
        assertThat(storeDir.resolve("base-99.tmp")).doesNotExist();
        // and the epoch can then be received and committed for real
        commit(reopened, 1, 2, 1, p2, r2);
        reopened.close();
        assertSameImage(open(storeDir), e2, "epoch 2 after recovery");
    }

    private static DeltaComputer.Result withRecords(DeltaComputer.Result r, int records) {
        return new DeltaComputer.Result(r.manifest(), r.imageBytes(), r.changedPages(), r.shippedFileBytes(), records);
    }

    /**
     * Writes {@code img} as epoch {@code epoch}'s image ({@code tmp/e<epoch>}) and commits it in generation 1: in full
     * when {@code prev} is null, else as its delta on {@code prev}, the epoch before. Returns the image's directory.
     */
    private Path commitImage(ImageStore store, FakeImage img, long epoch, Path prev) throws IOException {
        Path cur = tmp.resolve("e" + epoch);
        img.write(cur);
        List<byte[]> payloads = new ArrayList<>();
        DeltaComputer.Result r = DeltaComputer.compute(prev, cur, rec -> payloads.add(rec.encode()));
        commit(store, 1, epoch, prev == null ? EpochBegin.FULL : epoch - 1, payloads, r);
        return cur;
    }

    static void commit(ImageStore store, long gen, long epoch, long base, List<byte[]> payloads, DeltaComputer.Result r)
            throws IOException {
        StoreEpochs.commit(store, gen, epoch, base, r.imageBytes(), payloads, r.manifest());
    }
}
