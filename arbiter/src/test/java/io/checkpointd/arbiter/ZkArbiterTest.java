package io.checkpointd.arbiter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.restore.arbiter.ArbiterException;
import io.checkpointd.restore.arbiter.Lease;
import io.checkpointd.restore.arbiter.LeaseHeldException;
import io.checkpointd.restore.arbiter.LeaseLostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.KillSession;
import org.apache.curator.test.TestingServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The lease and the counter against a real, in-process ZooKeeper server. */
@Timeout(60)
class ZkArbiterTest {
    /** Short ticks so sessions can be short: ZooKeeper allows 2 to 20 ticks. */
    private static final int TICK_MS = 100;
    private static final Duration SESSION = Duration.ofMillis(1000);

    private TestingServer zk;
    private final List<ZkArbiter> arbiters = new ArrayList<>();

    @BeforeEach
    void startServer() throws Exception {
        zk = new TestingServer(new InstanceSpec(null, -1, -1, -1, true, -1, TICK_MS, -1), true);
    }

    @AfterEach
    void stopServer() throws Exception {
        for (ZkArbiter a : arbiters) a.close();
        zk.close();
    }

    private ZkArbiter arbiter(String service) throws InterruptedException {
        ZkArbiter a = ZkArbiter.start(ArbiterAddress.parse("zk://" + zk.getConnectString() + "/checkpointd"), service, SESSION);
        arbiters.add(a);
        assertThat(a.awaitConnected(Duration.ofSeconds(10))).isTrue();
        return a;
    }

    @Test
    void theLeaseIsExclusiveUntilItsHolderReleasesIt() throws Exception {
        ZkArbiter primary = arbiter("kv");
        ZkArbiter backup = arbiter("kv");
        Lease held = primary.acquire("primary pid 1", Duration.ZERO);
        assertThat(held.isHeld()).isTrue();

        assertThatThrownBy(() -> backup.acquire("backup pid 2", Duration.ofMillis(300)))
                .isInstanceOf(LeaseHeldException.class).hasMessageContaining("primary pid 1");
        // another service's lease is independent
        assertThat(arbiter("other").acquire("x", Duration.ZERO).isHeld()).isTrue();

        held.release();
        assertThat(held.isHeld()).isFalse();
        Lease taken = backup.acquire("backup pid 2", Duration.ofSeconds(5));
        assertThat(taken.isHeld()).isTrue();
        assertThatThrownBy(() -> primary.acquire("primary pid 1", Duration.ZERO)).isInstanceOf(LeaseHeldException.class);
    }

    @Test
    void aWaitingContenderGetsTheLeaseWhenTheHolderCloses() throws Exception {
        ZkArbiter primary = arbiter("kv");
        ZkArbiter backup = arbiter("kv");
        primary.acquire("primary", Duration.ZERO);
        CompletableFuture<Lease> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return backup.acquire("backup", Duration.ofSeconds(10));
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(300);
        assertThat(waiting).isNotDone();
        primary.close(); // a primary that exits closes its session: the node goes at once
        assertThat(waiting.get(5, TimeUnit.SECONDS).isHeld()).isTrue();
    }

    @Test
    void theLeaseIsReleasedWhenTheHoldersSessionExpires() throws Exception {
        ZkArbiter primary = arbiter("kv");
        ZkArbiter backup = arbiter("kv");
        Lease held = primary.acquire("primary", Duration.ZERO);
        long g = held.nextGeneration(1);
        CountDownLatch lost = new CountDownLatch(1);
        held.onLost(why -> lost.countDown());

        KillSession.kill(primary.client().getZookeeperClient().getZooKeeper());

        assertThat(lost.await(10, TimeUnit.SECONDS)).as("the holder learns it lost the lease").isTrue();
        assertThat(held.isHeld()).isFalse();
        // the server drops the dead session's ephemeral node within the session timeout
        Lease taken = backup.acquire("backup", SESSION.multipliedBy(5));
        long next = taken.nextGeneration(1);
        assertThat(next).isGreaterThan(g);
        // the stale holder can never advance the counter again
        assertThatThrownBy(() -> held.nextGeneration(1)).isInstanceOf(LeaseLostException.class);
        assertThat(taken.nextGeneration(1)).isEqualTo(next + 1);
    }

    @Test
    void aStaleHandleCannotTakeAGenerationAfterAnotherHolderTookTheLease() throws Exception {
        ZkArbiter primary = arbiter("kv");
        ZkArbiter backup = arbiter("kv");
        Lease held = primary.acquire("primary", Duration.ZERO);
        // hand-deleting the node is the closest thing to "someone else holds it now" without waiting for expiry
        primary.client().delete().forPath("/checkpointd/kv/lease");
        Lease taken = backup.acquire("backup", Duration.ofSeconds(5));
        assertThatThrownBy(() -> held.nextGeneration(1)).isInstanceOf(LeaseLostException.class);
        assertThat(held.isHeld()).isFalse();
        assertThat(taken.nextGeneration(1)).isEqualTo(1);
    }

    @Test
    void generationsGrowAndRespectTheFloor() throws Exception {
        Lease l = arbiter("kv").acquire("p", Duration.ZERO);
        assertThat(l.nextGeneration(1)).isEqualTo(1);
        assertThat(l.nextGeneration(1)).isEqualTo(2);
        // a store that already fenced generation 9 (heartbeat-only runs before) asks for at least 10
        assertThat(l.nextGeneration(10)).isEqualTo(10);
        assertThat(l.nextGeneration(3)).isEqualTo(11);
    }

    @Test
    void theCounterIsCompareAndSetSafeUnderConcurrentIncrementers() throws Exception {
        int clients = 4, each = 50;
        List<ZkArbiter> as = new ArrayList<>();
        for (int i = 0; i < clients; i++) as.add(arbiter("kv"));
        Lease lease = as.get(0).acquire("holder", Duration.ZERO); // creates the counter node
        ExecutorService pool = Executors.newFixedThreadPool(clients + 2);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<List<Long>>> results = new ArrayList<>();
            // separate sessions racing on the raw counter...
            for (ZkArbiter a : as) {
                results.add(pool.submit(() -> {
                    go.await();
                    List<Long> got = new ArrayList<>();
                    for (int i = 0; i < each; i++) {
                        got.add(GenerationCounter.next(a.client().getZookeeperClient().getZooKeeper(), "/checkpointd/kv/generation", 1, List.of()));
                    }
                    return got;
                }));
            }
            // ...and two threads sharing the lease holder's session
            for (int t = 0; t < 2; t++) {
                results.add(pool.submit(() -> {
                    go.await();
                    List<Long> got = new ArrayList<>();
                    for (int i = 0; i < each; i++) got.add(lease.nextGeneration(1));
                    return got;
                }));
            }
            go.countDown();
            List<Long> all = new ArrayList<>();
            for (Future<List<Long>> f : results) {
                List<Long> got = f.get(30, TimeUnit.SECONDS);
                for (int i = 1; i < got.size(); i++) assertThat(got.get(i)).as("each incrementer sees its values grow").isGreaterThan(got.get(i - 1));
                all.addAll(got);
            }
            int total = (clients + 2) * each;
            assertThat(all).as("no value handed out twice").doesNotHaveDuplicates().hasSize(total);
            assertThat(all.stream().mapToLong(Long::longValue).max().getAsLong()).as("no gaps without contention loss").isEqualTo(total);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anUnreachableArbiterIsReportedNotWaitedOnForever() throws Exception {
        ZkArbiter a = arbiter("kv");
        zk.stop();
        long t0 = System.nanoTime();
        assertThatThrownBy(() -> a.acquire("backup", Duration.ofMillis(800)))
                .isInstanceOf(ArbiterException.class).isNotInstanceOf(LeaseHeldException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
    }

    @Test
    void aHolderCutOffFromZooKeeperLosesTheLeaseAfterTheSessionTimeout() throws Exception {
        ZkArbiter primary = arbiter("kv");
        Lease held = primary.acquire("primary", Duration.ZERO);
        AtomicInteger calls = new AtomicInteger();
        CountDownLatch lost = new CountDownLatch(1);
        held.onLost(why -> {
            calls.incrementAndGet();
            lost.countDown();
        });
        zk.stop();
        // Curator reports LOST once the session timeout passed without a connection: the holder knows without the server
        assertThat(lost.await(SESSION.multipliedBy(10).toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        assertThat(held.isHeld()).isFalse();
        Thread.sleep(200);
        assertThat(calls).hasValue(1);
    }
}
