package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.protocol.status.Json;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Losing the backup: by default ({@code --on-backup-loss stall}) output is held until the backup is back; with
 * {@code continue} it is released unprotected, loudly, and protection resumes (full sync) when the backup returns.
 * Either way a later failover restores every acknowledged write.
 */
class BackupLossTest extends E2eTest {
    @Test
    @Timeout(180)
    void stallHoldsOutputWhileTheBackupIsGone() throws Exception {
        // the backup's own failure detector is not under test: a longer timeout keeps the full sync after its return
        // (tens of MB on a loaded machine) from looking like a dead primary
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withHeartbeatTimeout(Duration.ofSeconds(3)));
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(800);
            c.killBackup();
            Thread.sleep(500); // replies of epochs already acknowledged may still arrive
            long acked = load.progress().ackedWrites();
            Thread.sleep(2000);
            assertThat(load.progress().ackedWrites()).as("no output while no backup can acknowledge").isEqualTo(acked);
            assertThat(c.status("primary").orElseThrow().get("unprotected")).isEqualTo(false);
            c.restartBackup();
            long ackedEpoch = ((Number) c.status("primary").orElseThrow().get("lastAckedEpoch")).longValue();
            c.awaitAckedEpoch(ackedEpoch + 2, Duration.ofSeconds(60));
            finish(c, load, acked);
        }
    }

    @Test
    @Timeout(180)
    void continueRunsUnprotectedThenReprotectsWhenTheBackupReturns() throws Exception {
        Cluster.Options opts = Cluster.Options.of(tmp).withHeartbeatTimeout(Duration.ofSeconds(3))
                .withProtectArgs(List.of("--on-backup-loss", "continue"));
        try (Cluster c = Cluster.start(opts);
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(800);
            c.killBackup();
            await(c, "primary", "unprotected", true);
            await(c, "proxy", "passthrough", true);
            long acked = load.progress().ackedWrites();
            Thread.sleep(1500);
            assertThat(load.progress().ackedWrites()).as("clients served, unprotected").isGreaterThan(acked);
            assertThat(Files.readString(c.logDir().resolve("protect.log"))).contains("runs UNPROTECTED");

            c.restartBackup();
            await(c, "primary", "unprotected", false);
            long ackedEpoch = ((Number) c.status("primary").orElseThrow().get("lastAckedEpoch")).longValue();
            c.awaitAckedEpoch(ackedEpoch + 2, Duration.ofSeconds(60));
            await(c, "proxy", "passthrough", false); // output held again
            assertThat(((Number) c.status("primary").orElseThrow().get("unprotectedEpisodes")).longValue()).isEqualTo(1);
            finish(c, load, acked);
        }
    }

    /** Status files are republished periodically: wait for the field to show the value. */
    private static void await(Cluster c, String role, String field, Object value) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!value.equals(c.status(role).orElseThrow().get(field))) {
            assertThat(System.nanoTime() - deadline).as(role + " " + field + " = " + value + E2eSupport.logs(c)).isNegative();
            Thread.sleep(50);
        }
    }

    /** Protected again: kill the primary; every acknowledged write (before, during, after the outage) survives. */
    private static void finish(Cluster c, KvWorkload load, long ackedBefore) throws Exception {
        Thread.sleep(500);
        assertThat(load.progress().ackedWrites()).isGreaterThan(ackedBefore);
        KvWorkload.Acked atKill = load.snapshot();
        c.killPrimary();
        Json b = c.awaitFailover(Duration.ofSeconds(60));
        load.stop();
        load.awaitTermination(Duration.ofSeconds(30));
        E2eSupport.assertAfterFailover(c, load, atKill, b);
    }
}
