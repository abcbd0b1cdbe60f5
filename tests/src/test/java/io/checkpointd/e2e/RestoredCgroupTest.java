package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.linux.cgroup.Cgroup2Placement;
import io.checkpointd.linux.cgroup.Placement;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Without systemd (PID 1 here is not systemd), the backup daemon runs in a cgroup v2 directory, as its unit would
 * put it; at failover the restored service is moved to a cgroup of its own before it runs, so stopping the backup
 * the way systemd stops a unit (SIGKILL to every process in its cgroup) leaves the restored service running and
 * serving what was written before the failover.
 */
class RestoredCgroupTest extends E2eTest {
    @Test
    @Timeout(180)
    void stoppingTheBackupsCgroupLeavesTheRestoredServiceRunning() throws Exception {
        Optional<Path> mount = Cgroup2Placement.mountPoint();
        assumeTrue(mount.isPresent(), "needs a cgroup v2 hierarchy");
        assumeTrue(!Files.isDirectory(Path.of("/run/systemd/system")), "systemd is init: the scope path applies");
        Path backupCgroup = mount.get().resolve("cpd-test-backup-" + ThreadLocalRandom.current().nextInt(1 << 30));
        Files.createDirectory(backupCgroup);
        String restoredCgroup = null;
        try {
            try (Cluster c = Cluster.start(Cluster.Options.of(tmp))) {
                Files.writeString(backupCgroup.resolve("cgroup.procs"), Long.toString(c.backupPid()));
                String backupPath = "/" + mount.get().relativize(backupCgroup);
                assertThat(Placement.cgroup2Of(c.backupPid())).hasValue(backupPath);
                try (KvClient kv = KvClient.connect(c.proxyAddress())) {
                    for (int i = 0; i < 20; i++) assertThat(kv.put("k" + i, "v" + i)).isTrue(); // acknowledged: committed
                }
                c.killPrimary();
                Json backup = c.awaitFailover(Duration.ofSeconds(30));
                int restored = c.restoredPid().orElseThrow();
                restoredCgroup = Placement.cgroup2Of(restored).orElseThrow();
                String ctx = "backup " + backup + E2eSupport.logs(c);
                assertThat(restoredCgroup).as(ctx).isNotEqualTo(backupPath)
                        .startsWith("/" + Cgroup2Placement.DEFAULT_PARENT + "/checkpointd-restored-g");
                assertThat(Files.readString(c.logDir().resolve("backup.log"))).as(ctx)
                        .contains("restored pid " + restored + " placed in cgroup");

                killCgroup(backupCgroup);
                awaitGone(c.backupPid());
                Thread.sleep(500);
                assertThat(Files.exists(Path.of("/proc/" + restored))).as("the restored service outlives its backup; " + ctx).isTrue();
                try (KvClient kv = KvClient.connect(c.serviceAddress())) {
                    for (int i = 0; i < 20; i++) assertThat(kv.get("k" + i)).as(ctx).hasValue("v" + i);
                    assertThat(kv.put("after", "stop")).isTrue();
                }
            }
        } finally {
            Files.deleteIfExists(backupCgroup);
            if (restoredCgroup != null) removeWhenEmpty(mount.get().resolve(restoredCgroup.substring(1)));
        }
    }

    /**
     * With a spare, the backup also starts the re-protecting primary; it goes to a cgroup of its own beside the
     * restored service's, so killing the backup's cgroup leaves the service protected: the new primary keeps
     * getting acks from the spare and clients are still answered (their output is released only on those acks).
     */
    @Test
    @Timeout(240)
    void stoppingTheBackupsCgroupLeavesTheReprotectingPrimaryRunning() throws Exception {
        Optional<Path> mount = Cgroup2Placement.mountPoint();
        assumeTrue(mount.isPresent(), "needs a cgroup v2 hierarchy");
        assumeTrue(!Files.isDirectory(Path.of("/run/systemd/system")), "systemd is init: the scope path applies");
        Path backupCgroup = mount.get().resolve("cpd-test-backup-" + ThreadLocalRandom.current().nextInt(1 << 30));
        Files.createDirectory(backupCgroup);
        String restoredCgroup = null, primaryCgroup = null;
        long newPrimary = -1;
        try {
            try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withSpare())) {
                Files.writeString(backupCgroup.resolve("cgroup.procs"), Long.toString(c.backupPid()));
                String backupPath = "/" + mount.get().relativize(backupCgroup);
                try (KvClient kv = KvClient.connect(c.proxyAddress())) {
                    for (int i = 0; i < 20; i++) assertThat(kv.put("k" + i, "v" + i)).isTrue();
                }
                c.killPrimary();
                Json backup = c.awaitFailover(Duration.ofSeconds(60));
                String ctx = "backup " + backup + E2eSupport.logs(c);
                assertThat(((Json) backup.get("failover")).get("newPrimaryPid")).as("re-protection started" + ctx).isInstanceOf(Long.class);
                newPrimary = (Long) ((Json) backup.get("failover")).get("newPrimaryPid");
                restoredCgroup = Placement.cgroup2Of(c.restoredPid().orElseThrow()).orElseThrow();
                primaryCgroup = Placement.cgroup2Of(newPrimary).orElseThrow();
                assertThat(primaryCgroup).as(ctx).isNotEqualTo(backupPath).isNotEqualTo(restoredCgroup)
                        .startsWith("/" + Cgroup2Placement.DEFAULT_PARENT + "/checkpointd-reprotect-g2");
                assertThat(Files.readString(c.logDir().resolve("backup.log"))).as(ctx)
                        .contains("re-protecting primary pid " + newPrimary + " placed in cgroup");
                long acked = awaitAcked(c, 3, ctx);

                killCgroup(backupCgroup);
                awaitGone(c.backupPid());
                Thread.sleep(500);
                assertThat(ProcessHandle.of(newPrimary).map(ProcessHandle::isAlive)).as("the new primary outlives the backup; " + ctx)
                        .hasValue(true);
                awaitAcked(c, acked + 10, ctx);
                try (KvClient kv = KvClient.connect(c.proxyAddress())) {
                    assertThat(kv.put("after", "stop")).as("released: the spare acknowledges").isTrue();
                    assertThat(kv.get("k7")).hasValue("v7");
                }
            }
        } finally {
            if (newPrimary > 0) ProcessHandle.of(newPrimary).ifPresent(ProcessHandle::destroyForcibly); // ended by Cluster already, normally
            Files.deleteIfExists(backupCgroup);
            if (primaryCgroup != null) removeWhenEmpty(mount.get().resolve(primaryCgroup.substring(1)));
            if (restoredCgroup != null) removeWhenEmpty(mount.get().resolve(restoredCgroup.substring(1)));
        }
    }

    /** Waits until the generation-2 primary reports an acked epoch of at least {@code n}; returns it. */
    private static long awaitAcked(Cluster c, long n, String ctx) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            Optional<Json> p = c.status("primary");
            if (p.isPresent() && Long.valueOf(2).equals(p.get().get("generation")) && p.get().get("lastAckedEpoch") instanceof Long l && l >= n) {
                return l;
            }
            assertThat(System.nanoTime() - deadline).as("the new primary gets acks from the spare (epoch " + n + "); " + ctx).isNegative();
            Thread.sleep(50);
        }
    }

    /** A killed process left its cgroup as a zombie; it is gone once its parent (this JVM's reaper) reaped it. */
    private static void awaitGone(long pid) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
            if (System.nanoTime() > deadline) throw new AssertionError("the backup (pid " + pid + ") is still alive");
            Thread.sleep(20);
        }
    }

    /** What systemd does to stop a unit (KillMode=control-group), in short: SIGKILL to each process until none is left. */
    private static void killCgroup(Path cgroup) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            String procs = Files.readString(cgroup.resolve("cgroup.procs")).trim();
            if (procs.isEmpty()) return;
            if (System.nanoTime() > deadline) throw new AssertionError("cgroup " + cgroup + " still has " + procs);
            for (String pid : procs.split("\\s+")) ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
            Thread.sleep(20);
        }
    }

    private static void removeWhenEmpty(Path cgroup) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Files.isDirectory(cgroup) && System.nanoTime() < deadline) {
            try {
                Files.deleteIfExists(cgroup);
            } catch (IOException e) {
                Thread.sleep(50); // the killed service's last threads are still leaving
            }
        }
    }
}
