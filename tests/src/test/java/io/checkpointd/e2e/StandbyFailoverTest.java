package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Failover from the backup's standby image, and lazily restored, as in {@link KillTest}: the demo service under
 * four clients whose writes are acknowledged through the proxy, the primary SIGKILLed; after failover every
 * acknowledged write is there, exactly, and the service serves on. The first restores from the standby image
 * (only its tail written at failover), the second also with {@code --lazy-pages} and a {@code criu lazy-pages}
 * daemon (forced on: the demo's image is below the automatic threshold). The restore image flags {@code PE_LAZY} where
 * CRIU's dump would, on the pages in the standby's parent too ({@code PE_PARENT | PE_LAZY}, which needs the CRIU of
 * scripts/criu-patches): CRIU restores none of those, the daemon serves them all, and the service still has every
 * acknowledged write.
 */
class StandbyFailoverTest extends E2eTest {
    private static final Duration EPOCH = Duration.ofMillis(25);

    @Test
    @Timeout(180)
    void aFailoverFromTheStandbyImageRestoresTheCommittedState() throws Exception {
        Json f = killAndCheck(Cluster.Options.of(tmp).withEpoch(EPOCH).withBackupJvmArgs(List.of("-Dcheckpointd.restore.lazy=off")));
        assertThat(f.get("fromStandby")).as("restored from the standby image; " + f).isEqualTo(true);
        assertThat(f.get("lazy")).isEqualTo(false);
        assertThat(((Number) f.get("servedPages")).longValue()).as("no daemon").isZero();
    }

    @Test
    @Timeout(180)
    void aLazilyRestoredServiceServesEveryAcknowledgedWrite() throws Exception {
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(EPOCH).withServiceArgs(List.of("--ballast", "24"))
                .withBackupJvmArgs(List.of("-Dcheckpointd.restore.lazy=on"));
        Json f = killAndCheck(opts);
        assertThat(f.get("lazy")).as("restored lazily; " + f).isEqualTo(true);
        assertThat(f.get("fromStandby")).isEqualTo(true);
        long lazyPages = ((Number) f.get("lazyPages")).longValue(), parentPages = ((Number) f.get("lazyParentPages")).longValue();
        assertThat(parentPages).as("pages left to the daemon in the standby's parent (the heap: 24 MiB of ballast); " + f).isGreaterThan(24L * 256);
        assertThat(lazyPages).isGreaterThanOrEqualTo(parentPages);
        assertThat(((Number) f.get("servedPages")).longValue()).as("the daemon copied in the lazy pages (the ballast's at least); " + f)
                .isGreaterThanOrEqualTo(24L * 256);
    }

    @Test
    @Timeout(180)
    void aLazyRestoreThatFailsIsRestoredWhole() throws Exception {
        // the lazy-pages daemon killed once CRIU has restored the process, before it resumes: that restore fails and
        // CRIU kills what it restored; the failover reaps those processes and restores the image again without the
        // daemon instead of leaving the service down
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(EPOCH).withServiceArgs(List.of("--ballast", "24"))
                .withBackupJvmArgs(List.of("-Dcheckpointd.restore.lazy=on", "-Dcheckpointd.fault.lazyDaemonDies=true"));
        Json f = killAndCheck(opts);
        assertThat(f.get("lazy")).as("restored whole after the lazy restore failed; " + f).isEqualTo(false);
        assertThat(f.get("fromStandby")).isEqualTo(true);
    }

    private Json killAndCheck(Cluster.Options opts) throws Exception {
        try (Cluster c = Cluster.start(opts); KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30));
            awaitStandby(c);
            Thread.sleep(500); // writes go on while the standby catches up behind the commits: failover finishes its tail
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            Json backup = c.awaitFailover(Duration.ofSeconds(30));
            long ackedAtFailover = load.progress().ackedWrites();
            Thread.sleep(1000); // clients reconnect through the proxy and go on writing to the restored service
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            String ctx = "killed with " + atKill + " acknowledged; backup " + backup + E2eSupport.logs(c);
            assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
            E2eSupport.assertAfterFailover(c, load, atKill, backup);
            assertThat(load.progress().ackedWrites()).as("writes acknowledged after the failover too; " + ctx).isGreaterThan(ackedAtFailover);
            try (KvClient client = KvClient.connect(c.proxyAddress())) {
                assertThat(client.put("after-failover", "yes")).isTrue();
                assertThat(client.get("after-failover")).contains("yes");
            }
            Json f = awaitAllPages(c);
            assertThat(((Number) f.get("allPagesMs")).doubleValue()).as("every page present; " + f).isPositive();
            System.out.printf("standby failover: %s%n", f);
            return f;
        }
    }

    /** Until the backup's standby image is current at some epoch. */
    private static void awaitStandby(Cluster c) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            Json s = c.status("backup").orElseThrow();
            if (((Number) ((Json) s.get("standbyImage")).get("epoch")).longValue() >= 0) return;
            assertThat(System.nanoTime() - deadline).as("standby image current; backup " + s).isNegative();
            Thread.sleep(20);
        }
    }

    /** The failover status once every page of the restored service is present (at once unless restored lazily). */
    private static Json awaitAllPages(Cluster c) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Json f = (Json) c.status("backup").orElseThrow().get("failover");
            if (f.get("allPagesMs") != null && f.get("servedPages") != null) return f;
            assertThat(System.nanoTime() - deadline).as("all pages present; " + f).isNegative();
            Thread.sleep(20);
        }
    }
}
