package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Backup crash: SIGKILL the backup while it receives an epoch (seen by the half-written epoch it leaves), restart
 * it on the same store: it keeps its last committed epoch, the primary resynchronises, and a later failover
 * restores a process holding every acknowledged write.
 */
class BackupCrashTest extends E2eTest {
    @Test
    @Timeout(240)
    void aBackupKilledMidEpochRestartsWithItsCommittedEpochAndCanStillFailOver() throws Exception {
        Random rnd = new Random();
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(50)));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            int midEpochKills = 0;
            for (int attempt = 0; attempt < 12 && midEpochKills < 2; attempt++) {
                Thread.sleep(100 + rnd.nextInt(300));
                long committedBefore = ((Number) c.status("backup").orElseThrow().get("committedEpoch")).longValue();
                // epochs end on output and take a millisecond or two to receive: aim the kill at one in flight
                awaitEpochInFlight(c.storeDir(), Duration.ofSeconds(2));
                c.killBackup();
                if (halfWrittenEpoch(c.storeDir())) midEpochKills++;
                c.restartBackup();
                Json after = c.awaitLiveStatus("backup", Duration.ofSeconds(10));
                long committedAfter = ((Number) after.get("committedEpoch")).longValue();
                assertThat(committedAfter).as("the restarted backup keeps its committed epoch" + E2eSupport.logs(c))
                        .isGreaterThanOrEqualTo(committedBefore);
                long acked = ((Number) c.status("primary").orElseThrow().get("lastAckedEpoch")).longValue();
                c.awaitAckedEpoch(acked + 1, Duration.ofSeconds(60));
            }
            assertThat(midEpochKills).as("the backup was killed while receiving an epoch").isPositive();
            Thread.sleep(500);
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            Json failedOver = c.awaitFailover(Duration.ofSeconds(60));
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            E2eSupport.assertAfterFailover(c, load, atKill, failedOver);
        }
    }

    /** An epoch being received leaves its temp log file behind when the backup dies. */
    /** Polls (bounded) until the store holds an epoch being received; a random instant rarely finds one. */
    private static void awaitEpochInFlight(Path store, Duration max) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() < deadline && !halfWrittenEpoch(store)) Thread.onSpinWait();
    }

    private static boolean halfWrittenEpoch(Path store) throws Exception {
        try (Stream<Path> s = Files.list(store.resolve("log"))) {
            return s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp"));
        }
    }
}
