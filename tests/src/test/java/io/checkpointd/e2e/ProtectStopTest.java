package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;

/**
 * SIGTERM to {@code protect} at any moment, mid-epoch included: it finishes the epoch, thaws, leaves the freezer
 * cgroup and exits 0 (docs/operations.md, "Exit codes" and "What happens when…"). The service is never left frozen.
 *
 * <p>The freezer cgroup is not taken on trust from the implementation: the test reads which cgroup the kernel has
 * the service in ({@code /proc/PID/cgroup}, in the hierarchy {@code /proc/self/mounts} names), checks it is the
 * freezer's own {@code checkpointd/PID} and holds the service while it is protected, and that it is gone and the
 * service out of it after the stop.
 */
class ProtectStopTest extends E2eTest {
    @RepeatedTest(3)
    @Timeout(120)
    void stoppingProtectNeverLeavesTheServiceFrozen() throws Exception {
        try (Cluster c = Cluster.start(Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(25)))) {
            long pid = c.servicePid();
            Hierarchy h = Hierarchy.find();
            Path cgroup = awaitFreezerCgroup(h, pid, c);
            assertThat(cgroup).as("the freezer cgroup is the primary's own").endsWith(Path.of("checkpointd", Long.toString(pid)));
            assertThat(cgroup).as("the freezer cgroup exists while protecting").isDirectory();
            assertThat(Files.readAllLines(cgroup.resolve("cgroup.procs"))).as("the service is in it").contains(Long.toString(pid));

            Thread.sleep(300 + new java.util.Random().nextInt(700));
            c.protectProcess().destroy(); // SIGTERM
            assertThat(c.protectProcess().waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(c.protectProcess().exitValue()).as("exit code after SIGTERM (documented: 0)" + E2eSupport.logs(c)).isZero();

            assertThat(cgroup).as("the freezer cgroup is gone" + E2eSupport.logs(c)).doesNotExist();
            Path now = h.cgroupOf(pid);
            assertThat(now.startsWith(h.root().resolve("checkpointd"))).as("the service has left the checkpointd cgroups, it is in "
                    + now + E2eSupport.logs(c)).isFalse();
            assertThat(h.isFrozen(now)).as("the cgroup the service is in now (" + now + ") is not frozen").isFalse();
            assertThat(Path.of("/proc", Long.toString(pid))).as("the service still runs").exists();
            try (KvClient direct = KvClient.connect(c.serviceAddress(), Duration.ofSeconds(2), Duration.ofSeconds(2))) {
                direct.ping();
                assertThat(direct.put("still", "running")).isTrue();
            }
            assertThat(Files.readString(c.logDir().resolve("protect.log"))).contains("protection of pid " + pid + " stopped");
        }
    }

    /** The cgroup the service is in once the primary has moved it (the primary does so as it starts to run). */
    private static Path awaitFreezerCgroup(Hierarchy h, long pid, Cluster c) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Path p = h.cgroupOf(pid);
        while (!p.startsWith(h.root().resolve("checkpointd"))) {
            assertThat(System.nanoTime() - deadline).as("the service never entered a checkpointd cgroup; it is in " + p
                    + E2eSupport.logs(c)).isNegative();
            Thread.sleep(20);
            p = h.cgroupOf(pid);
        }
        return p;
    }

    /**
     * The hierarchy a cgroup freezer lives in here, read from the mount table: the v1 {@code freezer} controller
     * if mounted (the one processes are placed in), else cgroup2.
     */
    private record Hierarchy(Path root, boolean v1) {
        static Hierarchy find() throws IOException {
            Optional<Path> v2 = Optional.empty();
            for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
                String[] f = line.split(" ");
                if (f[2].equals("cgroup") && Arrays.asList(f[3].split(",")).contains("freezer")) return new Hierarchy(Path.of(f[1]), true);
                if (f[2].equals("cgroup2") && v2.isEmpty()) v2 = Optional.of(Path.of(f[1]));
            }
            return new Hierarchy(v2.orElseThrow(() -> new AssertionError("no cgroup freezer mounted")), false);
        }

        /** The directory of {@code pid}'s cgroup in this hierarchy, from {@code /proc/PID/cgroup}. */
        Path cgroupOf(long pid) throws IOException {
            List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"));
            for (String l : lines) {
                String[] f = l.split(":", 3);
                boolean mine = v1 ? Arrays.asList(f[1].split(",")).contains("freezer") : f[0].equals("0");
                if (mine) return root.resolve(f[2].substring(1));
            }
            throw new AssertionError("pid " + pid + " has no cgroup in " + root + ": " + lines);
        }

        /** Whether the kernel reports {@code dir} frozen (the root cgroup has no freezer files and cannot be). */
        boolean isFrozen(Path dir) throws IOException {
            Path state = dir.resolve(v1 ? "freezer.state" : "cgroup.events");
            if (!Files.exists(state)) return false;
            String s = Files.readString(state);
            return v1 ? !s.trim().equals("THAWED") : s.contains("frozen 1");
        }
    }
}
