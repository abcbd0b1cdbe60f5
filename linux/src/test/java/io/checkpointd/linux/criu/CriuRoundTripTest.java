package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A JVM checkpointed and restored from Java: state (the counter) and the listening socket survive, established
 * connections are dropped ({@link TcpMode#CLOSE}).
 */
class CriuRoundTripTest {
    @TempDir
    Path tmp;

    /** Every pid this test started or restored; killed by pid and reaped afterwards, whatever happened. */
    private final List<Integer> pids = new ArrayList<>();
    private final List<Process> children = new ArrayList<>();

    @AfterEach
    void killEverythingWeStarted() throws Exception {
        for (Process p : children) {
            p.destroyForcibly();
            p.waitFor();
        }
        for (int pid : pids) Reaper.killAndReap(pid, Duration.ofSeconds(10));
    }

    @Test
    void dumpKillRestoreKeepsTheCounterAndTheListener() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        // A detached restore re-parents the restored JVM to the nearest subreaper; pid 1 here does not reap, so
        // without this the killed restored JVM would stay a zombie holding its pid.
        Reaper.becomeChildSubreaper();
        assertThat(Reaper.isChildSubreaper()).isTrue();

        Path portFile = tmp.resolve("port");
        Process service = CriuTestSupport.startCounterService(portFile);
        children.add(service);
        int pid = (int) service.pid();
        int port = CriuTestSupport.awaitPort(portFile, service, Duration.ofSeconds(30));
        // `setsid` is not a group leader under ProcessBuilder, so it execs java in place: the pid is java's,
        // and java leads its own session (so CRIU needs no --shell-job)
        assertThat(service.info().command()).hasValueSatisfying(c -> assertThat(c).endsWith("/java"));
        assertThat(Files.readAllLines(Path.of("/proc/" + pid + "/stat")).get(0).split("\\) ")[1].split(" ")[3])
                .as("session id").isEqualTo(Integer.toString(pid));
        long before = CriuTestSupport.readCounter(port, Duration.ofSeconds(10));
        assertThat(before).isPositive();

        Path images = Files.createDirectories(tmp.resolve("images"));
        long t0 = System.nanoTime();
        criu.dump(DumpOptions.builder(pid, images).leaveRunning(true).tcpMode(TcpMode.CLOSE).build());
        long dumpMs = (System.nanoTime() - t0) / 1_000_000;
        assertThat(Criu.imagePids(images)).contains(pid).hasSizeGreaterThan(5); // a JVM has many threads

        assertThat(CriuTestSupport.readCounter(port, Duration.ofSeconds(10))).as("still serving after a leave-running dump")
                .isGreaterThanOrEqualTo(before);

        service.destroyForcibly();
        service.waitFor();
        children.remove(service);

        pids.add(pid); // the restored tree reuses the original pid
        long t1 = System.nanoTime();
        int restored = criu.restore(RestoreOptions.builder(images).tcpMode(TcpMode.CLOSE).build());
        long restoreMs = (System.nanoTime() - t1) / 1_000_000;
        assertThat(restored).isEqualTo(pid);

        long after = CriuTestSupport.readCounter(port, Duration.ofSeconds(10));
        assertThat(after).isGreaterThanOrEqualTo(before);
        Thread.sleep(50);
        assertThat(CriuTestSupport.readCounter(port, Duration.ofSeconds(10))).as("the restored counter keeps ticking")
                .isGreaterThan(after);
        System.out.printf("criu round trip: %d threads, dump (leave-running) %d ms, restore %d ms, counter %d -> %d%n",
                Criu.imagePids(images).size(), dumpMs, restoreMs, before, after);

        assertThat(Reaper.killAndReap(restored, Duration.ofSeconds(10))).as("restored pid gone").isTrue();
        pids.remove(Integer.valueOf(restored));
    }
}
