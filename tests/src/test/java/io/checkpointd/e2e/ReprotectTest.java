package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Await;
import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Re-protection: after a failover the backup protects the restored service toward a spare (full sync first, then
 * epochs; output held until the spare acknowledged), and a second failover onto the spare loses no acknowledged
 * write either.
 */
class ReprotectTest extends E2eTest {
    @Test
    @Timeout(240)
    void theRestoredServiceIsProtectedAgainAndSurvivesASecondFailover() throws Exception {
        reprotectAndFailTwice(Cluster.Options.of(tmp).withSpare());
    }

    /** Over TLS: the backup re-protects with its own certificate, which names the primary role too. */
    @Test
    @Timeout(240)
    void overTlsToo() throws Exception {
        reprotectAndFailTwice(Cluster.Options.of(tmp).withSpare().withTls());
        assertThat(Files.readString(tmp.resolve("logs").resolve("backup.log"))).contains("TLS 1.3 as");
    }

    /**
     * Restored lazily: the new primary's tracker registers its own userfaultfd (write-protect) on the memory CRIU's
     * lazy-pages daemon served through another, which the kernel refuses while that one is registered; it starts
     * once the daemon is done.
     */
    @Test
    @Timeout(240)
    void afterALazyRestoreToo() throws Exception {
        Json f = reprotectAndFailTwice(Cluster.Options.of(tmp).withSpare().withServiceArgs(java.util.List.of("--ballast", "24"))
                .withBackupJvmArgs(java.util.List.of("-Dcheckpointd.restore.lazy=on")));
        assertThat(f.get("lazy")).as("restored lazily; " + f).isEqualTo(true);
        assertThat(((Number) f.get("lazyParentPages")).longValue()).as("pages served from the standby's parent; " + f).isGreaterThan(24L * 256);
        assertThat(((Number) f.get("allPagesMs")).doubleValue()).as("every page in before re-protecting; " + f).isPositive();
    }

    /** Returns the first failover's status. */
    private Json reprotectAndFailTwice(Cluster.Options opts) throws Exception {
        try (Cluster c = Cluster.start(opts);
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(3))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1500);
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            Json first = c.awaitFailover(Duration.ofSeconds(60));
            Json f = (Json) first.get("failover");
            assertThat(f.get("generation")).isEqualTo(2L);
            assertThat(f.get("newPrimaryPid")).as("re-protection started" + E2eSupport.logs(c)).isInstanceOf(Long.class);

            // the new primary's full sync reaches the spare; then epochs flow and output is released, protected
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (true) {
                Json p = c.status("primary").orElseThrow();
                if (Long.valueOf(2).equals(p.get("generation")) && p.get("lastAckedEpoch") instanceof Long l && l >= 3) break;
                assertThat(System.nanoTime() - deadline).as("the new primary gets acks from the spare" + E2eSupport.logs(c)).isNegative();
                Thread.sleep(50);
            }
            assertThat(Files.readString(c.logDir().resolve("backup.log"))).doesNotContain("runs UNPROTECTED");
            Json proxy = c.status("proxy").orElseThrow();
            assertThat(proxy.get("generation")).isEqualTo(2L);
            assertThat(proxy.get("passthrough")).as("output of generation 2 is held until acknowledged").isEqualTo(false);
            // the spare's status file is rewritten every 20 ms: allow it that long to show what it acknowledged
            Json spare = Await.until(Duration.ofSeconds(5), Duration.ofMillis(20),
                    () -> "the spare never showed generation 2 committed" + E2eSupport.logs(c),
                    () -> c.spareStatus().filter(j -> Long.valueOf(2).equals(j.get("committedGeneration"))).orElse(null));
            assertThat(spare.get("committedGeneration")).isEqualTo(2L);
            long ackedBeforeSecondKill = load.progress().ackedWrites();
            Thread.sleep(1000);
            assertThat(load.progress().ackedWrites()).as("clients are served while re-protected").isGreaterThan(ackedBeforeSecondKill);

            c.killRestoredPrimary();
            Json secondStatus = c.awaitSpareFailover(Duration.ofSeconds(60));
            Json second = (Json) secondStatus.get("failover");
            assertThat(second.get("generation")).isEqualTo(3L);
            Thread.sleep(1000);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            E2eSupport.assertAfterFailover(c, load, atKill, first, secondStatus);
            try (KvClient client = KvClient.connect(c.proxyAddress())) {
                assertThat(client.put("after-second-failover", "yes")).isTrue();
            }
            return f;
        }
    }
}
