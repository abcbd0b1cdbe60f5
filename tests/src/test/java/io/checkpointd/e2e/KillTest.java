package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.demo.VerificationResult;
import io.checkpointd.primary.PrimaryFaults;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.restore.BackupFaults;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The kill test: the demo service under a concurrent client workload whose writes are acknowledged through the
 * proxy; SIGKILL of the primary (service and daemon); after failover every write acknowledged before the kill is
 * present, exactly (writes are write-once, so writes after the failover cannot hide a lost one), and the service
 * keeps serving. The primary is killed by a fault point inside it at each of four instants of an epoch (in the
 * pause, mid-ship, between ship and ack, right after the ack), and from outside at a random moment. It runs the
 * default engine with epochs that end on output (at most 25 ms), with the backup acknowledging after the durable
 * commit (the default) and from memory ({@code --ack memory}), and once the full-dump engine at 100 ms. A planted
 * loss (the backup acknowledges epochs it throws away) must make the check fail.
 */
class KillTest extends E2eTest {
    private static final Duration EPOCH = Duration.ofMillis(25);

    @ParameterizedTest(name = "killed {0}")
    @EnumSource(PrimaryFaults.KillPoint.class)
    @Timeout(180)
    void everyAcknowledgedWriteSurvivesAKillAtAPointOfTheEpoch(PrimaryFaults.KillPoint point) throws Exception {
        killAt(point, Cluster.Options.of(tmp).withEpoch(EPOCH));
    }

    /** The same with the backup acknowledging epochs from memory: a failover restores every acknowledged one too. */
    @ParameterizedTest(name = "ack memory, killed {0}")
    @EnumSource(PrimaryFaults.KillPoint.class)
    @Timeout(180)
    void withAcksFromMemoryEveryAcknowledgedWriteSurvivesAKillAtAPointOfTheEpoch(PrimaryFaults.KillPoint point) throws Exception {
        killAt(point, ackMemory(Cluster.Options.of(tmp).withEpoch(EPOCH)));
    }

    private void killAt(PrimaryFaults.KillPoint point, Cluster.Options base) throws Exception {
        Path arm = tmp.resolve("kill-arm");
        Cluster.Options opts = base
                .withProtectJvmArgs(List.of("-D" + PrimaryFaults.KILL_AT_PROPERTY + "=" + point.spelling() + ":" + arm));
        long armAfterMs = 500 + new Random().nextInt(1500);
        try (Cluster c = Cluster.start(opts); KvWorkload load = workload(c)) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(armAfterMs);
            long armed = System.nanoTime();
            Files.createFile(arm);
            c.awaitPrimaryDeath(Duration.ofSeconds(10));
            KvWorkload.Acked atKill = load.snapshot(); // no ack can reach a client between the death and the failover
            String where = Files.readString(Path.of(arm + ".epoch"));
            String ctx = "killed at " + where + ", " + (System.nanoTime() - armed) / 1_000_000 + " ms after arming, with "
                    + atKill + " acknowledged";
            afterTheKill(c, load, atKill, ctx);
        }
    }

    @RepeatedTest(2)
    @Timeout(180)
    void everyAcknowledgedWriteSurvivesAKillAtARandomMoment(RepetitionInfo rep) throws Exception {
        killFromOutside(rep.getCurrentRepetition(), Cluster.Options.of(tmp).withEpoch(EPOCH));
    }

    @Test
    @Timeout(180)
    void withAcksFromMemoryAtARandomMomentToo() throws Exception {
        killFromOutside(7, ackMemory(Cluster.Options.of(tmp).withEpoch(EPOCH)));
    }

    /** The backup acknowledges an epoch once it is verified in its memory (Remus), before it is durable. */
    private static Cluster.Options ackMemory(Cluster.Options o) {
        return o.withDaemonArgs("backup", List.of("--ack", "memory"));
    }

    @Test
    @Timeout(180)
    void theFullDumpEngineToo() throws Exception {
        killFromOutside(0, Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(100)).withProtectArgs(List.of("--engine", "full")));
    }

    /** Over TLS, a certificate per role: epochs, seals and releases, and the failover's new generation. */
    @Test
    @Timeout(180)
    void overTlsToo() throws Exception {
        killFromOutside(0, Cluster.Options.of(tmp).withEpoch(EPOCH).withTls());
        String backupLog = Files.readString(tmp.resolve("logs").resolve("backup.log"));
        assertThat(backupLog).as("the backup listened with TLS").contains("TLS 1.3 as").contains("roles primary, backup");
    }

    /**
     * A service that starts a thread every 10 ms and ends each 20-120 ms later, protected with no CRIU dump after the
     * warm-up, so the restored epoch holds threads whose cores the engine built: after the failover it serves its
     * state, takes new connections, and goes on starting, ending and joining threads (a thread restored with a wrong
     * clear_tid_addr, robust list or rseq area would corrupt memory or hang when it ends).
     */
    @Test
    @Timeout(180)
    void aServiceChurningThreadsEveryEpochIsRestoredAndRunsOn() throws Exception {
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(EPOCH).withServiceArgs(List.of("--churn"));
        try (Cluster c = Cluster.start(opts); KvWorkload load = workload(c)) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30));
            long dumpsBefore = criuDumps(c), epochBefore = lastAckedEpoch(c), mmBefore = mmRebuiltEpochs(c);
            // a few seconds of epochs: every one of them sees threads born and ended
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (lastAckedEpoch(c) < epochBefore + 20 && System.nanoTime() < deadline) Thread.sleep(50);
            Json primary = c.status("primary").orElseThrow();
            assertThat(lastAckedEpoch(c)).as("epochs acknowledged under thread churn; " + primary).isGreaterThanOrEqualTo(epochBefore + 20);
            assertThat(criuDumps(c)).as("CRIU dumps under thread churn after the warm-up; " + primary).isEqualTo(dumpsBefore);
            // the churn maps, re-protects and unmaps memory and grows the brk heap every 10 ms: the engine's mm.img
            assertThat(mmRebuiltEpochs(c) - mmBefore).as("epochs whose memory map the engine rebuilt; " + primary).isGreaterThanOrEqualTo(10);
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            afterTheKill(c, load, atKill, "thread churn, killed after epoch " + lastAckedEpochOf(primary) + " with " + atKill + " acknowledged");
            int pid = c.restoredPid().orElseThrow();
            // the restored service goes on starting and ending threads: its thread set keeps changing, and it serves
            java.util.Set<java.util.List<Integer>> seen = new java.util.HashSet<>();
            for (int i = 0; i < 20; i++) {
                seen.add(io.checkpointd.linux.proc.ProcFs.threads(pid));
                Thread.sleep(50);
            }
            assertThat(seen.size()).as("distinct thread sets of the restored service over 1 s").isGreaterThan(5);
            // and its brk heap grows on: with a program break restored short of the heap, brk fails and the churn ends
            long heapEnd = heapEnd(pid);
            long grown = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (heapEnd(pid) <= heapEnd && System.nanoTime() - grown < 0) Thread.sleep(50);
            assertThat(heapEnd(pid)).as("the restored service's brk heap end").isGreaterThan(heapEnd);
            for (int i = 0; i < 3; i++) {
                try (KvClient client = KvClient.connect(c.proxyAddress())) {
                    assertThat(client.put("churn-after-" + i, "v" + i)).isTrue();
                    assertThat(client.get("churn-after-" + i)).contains("v" + i);
                }
            }
            assertThat(io.checkpointd.linux.proc.ProcFs.threads(pid)).as("the restored service still runs").isNotEmpty();
        }
    }

    private static long mmRebuiltEpochs(Cluster c) throws Exception {
        Json p = c.status("primary").orElseThrow();
        return ((Number) ((Json) p.get("engineStats")).get("mmRebuiltEpochs")).longValue();
    }

    /** The end of {@code pid}'s brk heap ({@code [heap]}), 0 if it has none. */
    private static long heapEnd(int pid) throws java.io.IOException {
        return io.checkpointd.linux.proc.ProcFs.maps(pid).stream().filter(v -> v.path().equals("[heap]"))
                .mapToLong(io.checkpointd.linux.proc.Vma::end).max().orElse(0);
    }

    private static long criuDumps(Cluster c) throws Exception {
        Json p = c.status("primary").orElseThrow();
        return ((Number) ((Json) p.get("engineStats")).get("criuDumps")).longValue();
    }

    private static long lastAckedEpoch(Cluster c) throws Exception {
        return lastAckedEpochOf(c.status("primary").orElseThrow());
    }

    private static long lastAckedEpochOf(Json primary) {
        return ((Number) primary.get("lastAckedEpoch")).longValue();
    }

    /** The check can fail: epochs the backup acknowledged but threw away are lost, and verification says so. */
    @Test
    @Timeout(180)
    void aPlantedLossIsFound() throws Exception {
        Path lose = tmp.resolve("ack-without-commit");
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(EPOCH)
                .withBackupJvmArgs(List.of("-D" + BackupFaults.ACK_WITHOUT_COMMIT_FILE_PROPERTY + "=" + lose));
        try (Cluster c = Cluster.start(opts); KvWorkload load = workload(c)) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(1000);
            long before = load.progress().ackedWrites();
            Files.createFile(lose);
            load.awaitAcked(before + 20, Duration.ofSeconds(10)); // acknowledged, and thrown away by the backup
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            Json backup = c.awaitFailover(Duration.ofSeconds(30));
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            VerificationResult v = load.verify(c.proxyAddress(), Duration.ofSeconds(30), atKill);
            String ctx = v.summary() + "; " + before + " acknowledged before the planted loss; backup " + backup + E2eSupport.logs(c);
            assertThat(v.ok()).as("a planted loss must fail the check; " + ctx).isFalse();
            assertThat(v.missingKeys()).as(ctx).isPositive();
            assertThat(v.okAtFault()).as(ctx).isLessThan(v.ackedAtFault()).isGreaterThanOrEqualTo(before);
            System.out.printf("planted loss: %s%n", v.summary());
        }
    }

    private void killFromOutside(int rep, Cluster.Options opts) throws Exception {
        long seed = System.nanoTime() ^ rep;
        long killAfterMs = 500 + new Random(seed).nextInt(3500);
        try (Cluster c = Cluster.start(opts); KvWorkload load = workload(c)) {
            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30)); // writes flow before any fault
            Thread.sleep(killAfterMs);
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            afterTheKill(c, load, atKill, "seed " + seed + ", killed after " + killAfterMs + " ms with " + atKill + " acknowledged");
        }
    }

    private static KvWorkload workload(Cluster c) {
        return new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(4));
    }

    private static void afterTheKill(Cluster c, KvWorkload load, KvWorkload.Acked atKill, String what) throws Exception {
        Json backup = c.awaitFailover(Duration.ofSeconds(15));
        long ackedAtFailover = load.progress().ackedWrites();
        Thread.sleep(1000); // clients reconnect through the proxy and go on writing to the restored service
        load.stop();
        load.awaitTermination(Duration.ofSeconds(30));

        String ctx = what + "; backup " + backup + E2eSupport.logs(c);
        assertThat(load.unexpectedFailures()).as(ctx).isEmpty();
        E2eSupport.assertFailoverTime(backup, ctx);
        E2eSupport.assertAfterFailover(c, load, atKill, backup);
        E2eSupport.assertNoXorBaseRejections(c);
        assertThat(load.progress().ackedWrites()).as("writes acknowledged after the failover too; " + ctx).isGreaterThan(ackedAtFailover);

        Json f = (Json) backup.get("failover");
        System.out.printf("%s: restored epoch %s, failover %s ms (restore %s ms), %d acknowledged in all%n", what,
                f.get("restoredEpoch"), f.get("failoverMs"), f.get("restoreMs"), load.progress().ackedWrites());
        Optional<Integer> restored = c.restoredPid();
        assertThat(restored).as(ctx).isPresent();
        try (KvClient client = KvClient.connect(c.proxyAddress())) {
            assertThat(client.put("after-failover", "yes")).isTrue();
            assertThat(client.get("after-failover")).contains("yes");
        }
    }
}
