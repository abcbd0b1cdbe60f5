package io.checkpointd.restore.store;

import static io.checkpointd.restore.store.StoreAssertions.assertSameImage;
import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.replication.EpochBegin;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Applied epochs (the ack of {@code --ack memory}) and the group commit that makes them durable: a crash of the
 * backup loses exactly the applied, unsynced epochs; a sync, a fence and a materialize keep them; compaction folds
 * in durable epochs only.
 */
class GroupCommitStoreTest {
    @TempDir
    Path tmp;

    private final Random rnd = new Random(17);
    private final FakeImage img = new FakeImage();
    private Path prev;
    private int images;

    /** The primary's next epoch, applied (not synced): its image is kept under primary-N. */
    private Path applyNext(ImageStore store, long epoch) throws IOException {
        img.evolve(rnd);
        Path cur = tmp.resolve("primary-" + ++images); // epochs are sent again after a crash: a new dir each time
        img.write(cur);
        List<byte[]> payloads = new ArrayList<>();
        DeltaComputer.Result r = DeltaComputer.compute(prev, cur, rec -> payloads.add(rec.encode()));
        StoreEpochs.apply(store, 1, epoch, prev == null ? EpochBegin.FULL : epoch - 1, r.imageBytes(), payloads, r.manifest());
        prev = cur;
        return cur;
    }

    @Test
    @Timeout(60)
    void aCrashLosesTheAppliedEpochsNotYetSyncedAndNothingElse() throws Exception {
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        Path first = applyNext(store, 1); // a full epoch is durable at once
        assertThat(store.durableEpoch()).isEqualTo(1);
        for (long e = 2; e <= 5; e++) applyNext(store, e);
        assertThat(store.committedEpoch()).isEqualTo(5);
        assertThat(store.durableEpoch()).as("applied, not synced").isEqualTo(1);
        store.close();
        store = ImageStore.open(storeDir); // the backup host crashed
        assertThat(store.committedEpoch()).isEqualTo(1);
        assertSameImage(store, first, "after the crash");

        prev = first;
        Path last = null;
        for (long e = 2; e <= 5; e++) last = applyNext(store, e);
        assertThat(store.sync()).isEqualTo(5);
        store.close();
        store = ImageStore.open(storeDir);
        assertThat(store.committedEpoch()).isEqualTo(5);
        assertSameImage(store, last, "synced, then crashed");
        store.close();
    }

    @Test
    @Timeout(60)
    void aFenceMakesEveryAppliedEpochDurableBeforeTheFailover() throws Exception {
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        Path last = null;
        for (long e = 1; e <= 4; e++) last = applyNext(store, e);
        store.fence(1);
        store.close();
        store = ImageStore.open(storeDir);
        assertThat(store.committedEpoch()).as("what was acknowledged in memory is what a failover restores").isEqualTo(4);
        assertThat(store.fencedGeneration()).isEqualTo(1);
        assertSameImage(store, last, "after the fence");
        store.close();
    }

    @Test
    @Timeout(120)
    void groupsCoverSeveralEpochsAndCompactionKeepsEveryDurableEpoch() throws Exception {
        Path storeDir = tmp.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        GroupCommit group = new GroupCommit(store);
        AtomicLong durable = new AtomicLong(-1);
        CountDownLatch last = new CountDownLatch(1);
        // the first group's callback holds the sync thread until every epoch has asked, so the asks queued
        // meanwhile must share a sync whatever the scheduler does (callbacks run on the sync thread)
        CountDownLatch allAsked = new CountDownLatch(1);
        Path cur = null;
        for (long e = 1; e <= 100; e++) {
            cur = applyNext(store, e);
            long n = e;
            group.request(new GroupCommit.Done() {
                @Override
                public void durable(long d) {
                    durable.accumulateAndGet(d, Math::max);
                    assertThat(d).as("a sync covers the epoch that asked").isGreaterThanOrEqualTo(n);
                    if (n == 100) last.countDown();
                    if (n == 1) awaitQuietly(allAsked);
                }

                @Override
                public void failed(IOException ex) {
                    throw new AssertionError(ex);
                }
            });
            if (e % 10 == 0) ImageDirs.deleteTree(tmp.resolve("primary-" + (images - 5)));
        }
        allAsked.countDown();
        assertThat(last.await(30, TimeUnit.SECONDS)).isTrue();
        group.close();
        assertThat(durable.get()).isEqualTo(100);
        assertThat(group.syncMs().count()).as("fewer syncs than epochs: grouped").isLessThan(100);
        store.awaitCompaction();
        store.close();
        store = ImageStore.open(storeDir);
        assertThat(store.committedEpoch()).isEqualTo(100);
        assertSameImage(store, cur, "epoch 100 after a restart");
        try (Stream<Path> s = Files.list(storeDir.resolve("log"))) {
            assertThat(s.count()).as("compaction bounds the log").isLessThanOrEqualTo(40);
        }
        store.close();
    }

    private static void awaitQuietly(CountDownLatch l) {
        try {
            l.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
