package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.cgroup.Cgroup2Placement;
import io.checkpointd.linux.cgroup.Placement;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The before-resume hook of a restore (CRIU's post-restore notification): it sees the restored pid before the
 * process runs, moves it to a cgroup v2 directory of its own, and the service then runs there; a hook that fails
 * aborts the restore and leaves no restored process behind.
 */
class CriuRestorePlacementTest {
    @TempDir
    Path tmp;

    private final List<Integer> pids = new ArrayList<>();
    private final List<Process> children = new ArrayList<>();
    private Path cgroupParent;

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor();
        }
        for (int pid : pids) Reaper.killAndReap(pid, Duration.ofSeconds(10));
        if (cgroupParent != null && Files.isDirectory(cgroupParent)) {
            try (var ds = Files.newDirectoryStream(cgroupParent, Files::isDirectory)) {
                for (Path d : ds) Files.deleteIfExists(d);
            }
            Files.deleteIfExists(cgroupParent);
        }
    }

    @Test
    void theRestoredProcessIsMovedToItsOwnCgroupBeforeItRuns() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        Path mount = assumeCgroup2();
        Reaper.becomeChildSubreaper();
        Dumped d = dumpAndKill(criu);
        cgroupParent = mount.resolve("cpd-test-" + ThreadLocalRandom.current().nextInt(1 << 30));
        Placement placement = Placement.forRestoredService("svc", cgroupParent).orElseThrow();
        assertThat(placement).isInstanceOf(Cgroup2Placement.class);
        String mine = Placement.cgroup2Of(ProcessHandle.current().pid()).orElseThrow();
        AtomicReference<String> atHook = new AtomicReference<>();
        AtomicReference<Integer> hookPid = new AtomicReference<>();

        pids.add(d.pid);
        int restored = criu.restore(RestoreOptions.builder(d.images).tcpMode(TcpMode.CLOSE).beforeResume(pid -> {
            hookPid.set(pid);
            placement.place(pid);
            atHook.set(Placement.cgroup2Of(pid).orElseThrow());
        }).build());

        String expected = "/" + mount.relativize(cgroupParent.resolve("svc"));
        assertThat(hookPid.get()).isEqualTo(restored).isEqualTo(d.pid);
        assertThat(atHook.get()).as("cgroup when the hook returned, before the process ran").isEqualTo(expected);
        assertThat(Placement.cgroup2Of(restored)).hasValue(expected).isNotEqualTo(Optional.of(mine));
        long after = CriuTestSupport.readCounter(d.port, Duration.ofSeconds(10));
        Thread.sleep(50);
        assertThat(CriuTestSupport.readCounter(d.port, Duration.ofSeconds(10))).as("it runs there").isGreaterThan(after);
        for (String tid : tids(restored)) {
            assertThat(Placement.cgroup2Of(Long.parseLong(tid))).as("thread " + tid).hasValue(expected);
        }
    }

    @Test
    void aFailingHookAbortsTheRestore() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        Reaper.becomeChildSubreaper();
        Dumped d = dumpAndKill(criu);
        pids.add(d.pid);
        assertThatThrownBy(() -> criu.restore(RestoreOptions.builder(d.images).tcpMode(TcpMode.CLOSE)
                .beforeResume(pid -> { throw new IOException("no cgroup for " + pid); }).build()))
                .isInstanceOf(CriuException.class).hasMessageContaining("no cgroup for " + d.pid);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (Files.exists(Path.of("/proc/" + d.pid)) && !isZombie(d.pid) && System.nanoTime() < deadline) Thread.sleep(10);
        assertThat(!Files.exists(Path.of("/proc/" + d.pid)) || isZombie(d.pid)).as("no restored process runs").isTrue();
    }

    private record Dumped(int pid, int port, Path images) {
    }

    private Dumped dumpAndKill(Criu criu) throws Exception {
        Path portFile = tmp.resolve("port");
        Process service = CriuTestSupport.startCounterService(portFile);
        children.add(service);
        int port = CriuTestSupport.awaitPort(portFile, service, Duration.ofSeconds(30));
        CriuTestSupport.readCounter(port, Duration.ofSeconds(10));
        Path images = Files.createDirectories(tmp.resolve("images"));
        criu.dump(DumpOptions.builder((int) service.pid(), images).leaveRunning(true).tcpMode(TcpMode.CLOSE).build());
        service.destroyForcibly();
        service.waitFor();
        children.remove(service);
        return new Dumped((int) service.pid(), port, images);
    }

    private static Path assumeCgroup2() throws IOException {
        Optional<Path> m = Cgroup2Placement.mountPoint();
        assumeTrue(m.isPresent(), "needs a cgroup v2 hierarchy");
        return m.get();
    }

    private static List<String> tids(int pid) throws IOException {
        try (var s = Files.list(Path.of("/proc/" + pid + "/task"))) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    private static boolean isZombie(int pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/stat")).split("\\) ")[1].startsWith("Z");
        } catch (IOException e) {
            return false;
        }
    }
}
