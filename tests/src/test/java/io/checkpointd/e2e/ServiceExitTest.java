package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * When the protected process dies but its daemon lives, the primary reports it, tells the backup to take over
 * (--on-exit failover, the default) and stops: the backup fails over long before its heartbeat timeout.
 */
class ServiceExitTest extends E2eTest {
    @Test
    @Timeout(120)
    void theBackupTakesOverAtOnceWhenTheProtectedProcessExits() throws Exception {
        Duration heartbeatTimeout = Duration.ofSeconds(30);
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withHeartbeatTimeout(heartbeatTimeout));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1000);
            long t0 = System.nanoTime();
            KvWorkload.Acked atExit = load.snapshot();
            c.killService();
            assertThat(c.protectProcess().waitFor(20, TimeUnit.SECONDS)).as("protect stops" + E2eSupport.logs(c)).isTrue();
            assertThat(c.protectProcess().exitValue()).as("protect's exit code" + E2eSupport.logs(c)).isZero();
            assertThat(Files.readString(c.logDir().resolve("protect.log"))).contains("exited; told the backup to take over");
            Json backup = c.awaitFailover(Duration.ofSeconds(20));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("failover did not wait for the heartbeat timeout")
                    .isLessThan(heartbeatTimeout.dividedBy(2));
            assertThat(Files.readString(c.logDir().resolve("backup.log"))).contains("reports its protected process exited");
            Thread.sleep(500);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            E2eSupport.assertAfterFailover(c, load, atExit, backup);
        }
    }
}
