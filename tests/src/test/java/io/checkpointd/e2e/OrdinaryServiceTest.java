package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.protocol.status.Json;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A service run the ordinary way: default perf data (the JVM maps {@code /tmp/hsperfdata_<user>/<pid>} shared),
 * stdout/stderr on a pipe to a logger, as root or as its own user ({@code nobody}). Killed with its primary, it is
 * restored on a "host" without its hsperfdata file (deleted at the kill, with its directory for {@code nobody}), every
 * acknowledged write is there, the file is back with its owner and the JVM's perf-data magic, the restored process
 * runs as the same user, and what it prints (a thread dump on SIGQUIT) lands in the backup's
 * {@code --service-output}.
 */
class OrdinaryServiceTest extends E2eTest {
    private static final int PERFDATA_MAGIC = 0xcafec0c0;

    @Test
    @Timeout(180)
    void aServiceWithPerfDataAndAPipedStdoutFailsOver() throws Exception {
        failOver(List.of(), "root", 0);
    }

    @Test
    @Timeout(180)
    void aServiceRunningAsItsOwnUserFailsOver() throws Exception {
        // CRIU reads the rlimits of a process of another user with prlimit(2), which needs CAP_SYS_RESOURCE: a
        // container's root may lack it (then the dump fails with "Can't get rlimit 0: Operation not permitted")
        org.junit.jupiter.api.Assumptions.assumeTrue(hasCapability(24), "root lacks CAP_SYS_RESOURCE here: CRIU cannot dump another user's process");
        // the service writes its port file into the test's directory
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxrwxrwx"));
        failOver(List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"), "nobody", 65534);
    }

    private void failOver(List<String> wrapper, String user, int uid) throws Exception {
        Path primaryLog = tmp.resolve("service-stdout-on-primary.log");
        Path restoredLog = tmp.resolve("service-stdout-after-failover.log");
        List<String> jvm = new ArrayList<>(KvServerProcess.RECOMMENDED_JVM_ARGS);
        jvm.remove("-XX:-UsePerfData");
        jvm.add("-XX:+UsePerfData");
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(25))
                .withService(new Cluster.ServiceLaunch(wrapper, jvm, primaryLog))
                .withDaemonArgs("backup", List.of("--service-output", restoredLog.toString()));
        try (Cluster c = Cluster.start(opts); KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            int pid = (int) c.servicePid();
            Path perfData = Path.of("/tmp/hsperfdata_" + user, Integer.toString(pid));
            assertThat(Files.getAttribute(Path.of("/proc/" + pid), "unix:uid")).as("the service runs as " + user).isEqualTo(uid);
            assertThat(Files.readString(Path.of("/proc/" + pid + "/maps"))).as("the service maps its perf data").contains(perfData.toString());
            assertThat(Files.readSymbolicLink(Path.of("/proc/" + pid + "/fd/1")).toString()).startsWith("pipe:[");
            Syscalls.kill(pid, 3); // SIGQUIT: a thread dump on stdout
            awaitContains(primaryLog, "Full thread dump", Duration.ofSeconds(10));

            load.start();
            load.awaitAcked(20, Duration.ofSeconds(30));
            Thread.sleep(500);
            KvWorkload.Acked atKill = load.snapshot();
            c.killPrimary();
            Files.deleteIfExists(perfData); // the backup's host never had it
            if (uid != 0) Files.deleteIfExists(perfData.getParent()); // nor, for its own user, the directory (if empty)
            Json backup = c.awaitFailover(Duration.ofSeconds(15));
            Thread.sleep(500);
            load.stop();
            load.awaitTermination(Duration.ofSeconds(30));
            String ctx = "backup " + backup + E2eSupport.logs(c);
            E2eSupport.assertFailoverTime(backup, ctx);
            E2eSupport.assertAfterFailover(c, load, atKill, backup);

            int restored = c.restoredPid().orElseThrow();
            assertThat(restored).isEqualTo(pid);
            assertThat(Files.exists(perfData)).as("perf data recreated; " + ctx).isTrue();
            assertThat(Files.getAttribute(perfData, "unix:mode")).isEqualTo(0100600);
            assertThat(Files.getAttribute(perfData, "unix:uid")).isEqualTo(uid);
            assertThat(Files.getAttribute(perfData.getParent(), "unix:uid")).isEqualTo(uid);
            assertThat(Files.getAttribute(Path.of("/proc/" + restored), "unix:uid")).as("restored as " + user).isEqualTo(uid);
            assertThat(ByteBuffer.wrap(Files.readAllBytes(perfData)).getInt()).as("perf-data magic").isEqualTo(PERFDATA_MAGIC);
            assertThat(Files.readString(c.logDir().resolve("backup.log"))).contains("created " + perfData);

            assertThat(Files.readSymbolicLink(Path.of("/proc/" + restored + "/fd/1"))).isEqualTo(restoredLog);
            Syscalls.kill(restored, 3);
            awaitContains(restoredLog, "Full thread dump", Duration.ofSeconds(10));
        }
    }

    /** Whether this process has capability {@code bit} effective ({@code CapEff} of /proc/self/status). */
    private static boolean hasCapability(int bit) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith("CapEff:")) return (Long.parseUnsignedLong(l.substring(7).trim(), 16) >> bit & 1) != 0;
        }
        return false;
    }

    private static void awaitContains(Path file, String text, Duration max) throws Exception {
        long end = System.nanoTime() + max.toNanos();
        while (System.nanoTime() - end < 0) {
            if (Files.exists(file) && Files.readString(file).contains(text)) return;
            Thread.sleep(50);
        }
        throw new AssertionError(file + " never contained \"" + text + "\" within " + max + ": "
                + (Files.exists(file) ? Files.readString(file) : "(no file)"));
    }
}
