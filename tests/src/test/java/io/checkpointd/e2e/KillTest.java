package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Timeout;

/**
 * The kill test: the demo service under a concurrent client workload whose writes are acknowledged through the
 * proxy; SIGKILL of the primary (service and daemon) at a random moment; after failover every acknowledged write
 * is present and the service keeps serving. Each repetition kills at a different random moment. It runs the default
 * engine (incremental: the restored image is a CRIU base patched with the daemon's pages and registers) at 25 ms
 * epochs, and once more with the full-dump engine at 100 ms.
 */
class KillTest extends E2eTest {
    @RepeatedTest(5)
    @Timeout(180)
    void everyAcknowledgedWriteSurvivesAKillAtARandomMoment(RepetitionInfo rep) throws Exception {
        killAtARandomMoment(rep.getCurrentRepetition(), Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(25)));
    }

    @org.junit.jupiter.api.Test
    @Timeout(180)
    void theFullDumpEngineToo() throws Exception {
        killAtARandomMoment(0, Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(100)).withProtectArgs(java.util.List.of("--engine", "full")));
    }

    private void killAtARandomMoment(int rep, Cluster.Options opts) throws Exception {
        long seed = System.nanoTime() ^ rep;
        Random rnd = new Random(seed);
        long killAfterMs = 500 + rnd.nextInt(3500);
        try (Cluster c = Cluster.start(opts);
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4).withKeysPerThread(50))) {
            load.start();
            Thread.sleep(killAfterMs);
            long ackedAtKill = load.progress().ackedWrites();
            c.killPrimary();
            Json backup = c.awaitFailover(Duration.ofSeconds(60));
            Thread.sleep(1000); // clients reconnect through the proxy and go on writing to the restored service
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));

            String ctx = "seed " + seed + ", killed after " + killAfterMs + " ms with " + ackedAtKill + " acked writes; backup "
                    + backup + E2eSupport.logs(c);
            assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
            E2eSupport.assertAfterFailover(c, load, backup);
            E2eSupport.assertNoXorBaseRejections(c);
            assertThat(load.progress().ackedWrites()).as("writes acknowledged after the failover too; " + ctx).isGreaterThan(ackedAtKill);

            Optional<Integer> restored = c.restoredPid();
            assertThat(restored).as(ctx).isPresent();
            try (KvClient client = KvClient.connect(c.proxyAddress())) {
                assertThat(client.put("after-failover", "yes")).isTrue();
                assertThat(client.get("after-failover")).contains("yes");
            }
        }
    }
}
