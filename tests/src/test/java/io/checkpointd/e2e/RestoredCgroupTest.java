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
                assertThat(ProcessHandle.of(c.backupPid()).map(ProcessHandle::isAlive)).as("the backup is stopped")
                        .isNotEqualTo(Optional.of(true));
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
