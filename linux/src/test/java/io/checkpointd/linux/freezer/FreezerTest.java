package io.checkpointd.linux.freezer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.Children;
import io.checkpointd.linux.testing.Ticker;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class FreezerTest {
    private final Children children = new Children();

    @AfterEach
    void killChildren() throws InterruptedException {
        children.close();
    }

    @Test
    void v1FreezesThawsAndCleansUp() throws Exception {
        assumeTrue(FreezerKind.v1Root().isPresent(), "no cgroup v1 freezer mounted");
        freezeThawCleanup(FreezerKind.V1);
    }

    @Test
    void v2FreezesThawsAndCleansUp() throws Exception {
        assumeTrue(FreezerKind.v2Root().isPresent(), "no cgroup2 mounted");
        freezeThawCleanup(FreezerKind.V2);
    }

    @Test
    void detectsTheMachinesFreezer() {
        FreezerKind k = FreezerKind.detect();
        if (FreezerKind.v1Root().isPresent()) assertThat(k).isEqualTo(FreezerKind.V1);
        else if (FreezerKind.v2Root().isPresent()) assertThat(k).isEqualTo(FreezerKind.V2);
        else assertThat(k).isEqualTo(FreezerKind.NONE);
    }

    private void freezeThawCleanup(FreezerKind kind) throws Exception {
        assumeTrue(Syscalls.geteuid() == 0, "cgroup writes need root");
        Process p = children.java(Ticker.class);
        int pid = (int) p.pid();
        AtomicLong ticks = new AtomicLong(-1);
        BufferedReader out = Children.stdout(p);
        Thread reader = new Thread(() -> {
            try {
                for (String l; (l = out.readLine()) != null; ) if (l.startsWith("tick ")) ticks.set(Long.parseLong(l.substring(5)));
            } catch (Exception ignored) {
                // child killed
            }
        }, "ticker-reader");
        reader.setDaemon(true);
        reader.start();
        awaitTicksAbove(ticks, 3);

        Path cgroup;
        try (Freezer f = Freezer.forProcess(pid, kind)) {
            cgroup = f.cgroup();
            assertThat(f.kind()).isEqualTo(kind);
            assertThat(Files.readAllLines(cgroup.resolve("cgroup.procs"))).contains(Integer.toString(pid));
            if (kind == FreezerKind.V1) {
                assertThat(Files.readAllLines(cgroup.resolve("tasks"))).hasSameSizeAs(ProcFs.threads(pid));
            }

            f.freeze(Duration.ofSeconds(5));
            assertThat(f.isFrozen()).isTrue();
            Thread.sleep(50); // let the reader drain what was written before the freeze
            long atFreeze = ticks.get();
            Thread.sleep(250);
            assertThat(ticks.get()).as("no progress while frozen (State %s)", ProcFs.statusField(pid, "State").orElse("?")).isEqualTo(atFreeze);

            f.thaw();
            assertThat(f.isFrozen()).isFalse();
            awaitTicksAbove(ticks, atFreeze + 3);
        }
        assertThat(cgroup).doesNotExist();
        assertThat(p.isAlive()).isTrue();
        String line = Files.readAllLines(ProcFs.dir(pid).resolve("cgroup")).stream()
                .filter(l -> kind == FreezerKind.V1 ? l.contains(":freezer:") : l.startsWith("0::")).findFirst().orElseThrow();
        assertThat(line).doesNotContain(CgroupFreezer.PARENT);
    }

    private static void awaitTicksAbove(AtomicLong ticks, long n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ticks.get() <= n) {
            if (System.nanoTime() > deadline) throw new AssertionError("ticker stuck at " + ticks.get() + ", expected > " + n);
            Thread.sleep(5);
        }
    }
}
