package io.checkpointd.e2e.hosts;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.hosts.HostCluster;
import io.checkpointd.e2e.BoundedRuns;
import io.checkpointd.e2e.E2eSupport;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Host failure of the primary at a random moment: every process of the primary host (service and protect) is
 * SIGKILLed at once; the backup, on its own host, takes over within the heartbeat timeout, restores the service
 * there (another network, pid and mount namespace), and the proxy on the front host serves from it. Five
 * repetitions; {@code -Dcheckpointd.soak=N} runs N.
 */
class HostKillTest extends HostTest {
    /** One run's waits (start, failover, load, checks) add up to a few minutes at most. */
    private static final Duration RUN_BOUND = Duration.ofMinutes(10);

    /** Each run bounded on its own: a {@code @Timeout} here would bound only this factory. */
    @TestFactory
    Stream<DynamicTest> everyAcknowledgedWriteSurvivesAHostKill() {
        return BoundedRuns.soak("host kill", 5, RUN_BOUND, this::run);
    }

    private void run(int rep) throws Exception {
        long seed = System.nanoTime() ^ rep;
        Random rnd = new Random(seed);
        long killAfterMs = 500 + rnd.nextInt(3500);
        Path dir = Files.createDirectories(tmp.resolve("rep-" + rep));
        long t0 = System.nanoTime();
        try (HostCluster c = HostCluster.start(HostCluster.Options.of(dir));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(killAfterMs);
            long ackedAtKill = load.progress().ackedWrites();
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimaryHost();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            Thread.sleep(1000); // clients reconnect through the proxy and write to the restored service
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            String ctx = "rep " + rep + ", seed " + seed + ", host killed after " + killAfterMs + " ms with " + ackedAtKill
                    + " acked writes; backup " + backup + c.logs();
            assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
            HostChecks.assertAfterFailover(c, load, atKill, backup, ctx);
            E2eSupport.assertFailoverTime(backup, ctx);
            assertThat(load.progress().ackedWrites()).as("writes acknowledged after the failover too; " + ctx).isGreaterThan(ackedAtKill);
            try (KvClient client = KvClient.connect(c.proxyAddress())) {
                assertThat(client.put("after-failover", "yes")).isTrue();
                assertThat(client.get("after-failover")).contains("yes");
            }
            Json f = (Json) backup.get("failover");
            System.out.printf("host kill %d: killed after %d ms, %d acked writes at kill, restored epoch %s, failover %s ms (restore %s ms), run %.1f s%n",
                    rep, killAfterMs, ackedAtKill, f.get("restoredEpoch"), f.get("failoverMs"), f.get("restoreMs"), (System.nanoTime() - t0) / 1e9);
        }
    }
}
