package io.checkpointd.linux.freezer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.cgroup.Cgroup2;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.Children;
import io.checkpointd.linux.testing.Ticker;
import java.io.BufferedReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
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

    /**
     * On cgroup v2 the process stays inside the cgroup it was in (its systemd unit's, here a directory the test
     * made): the freezer's leaf is a child of it, and closing puts the process back in it exactly.
     */
    @Test
    void v2FreezesInsideTheProcesssOwnCgroup() throws Exception {
        Path unit = unitCgroup();
        try {
            Ticking t = startTicker();
            Cgroup2.move(t.pid(), unit);
            String unitPath = Cgroup2.pathOf(v2Root(), unit);
            Path cgroup;
            try (Freezer f = Freezer.forProcess(t.pid(), FreezerKind.V2)) {
                cgroup = f.cgroup();
                assertThat(cgroup.getParent()).isEqualTo(unit);
                assertThat(Cgroup2.pathOf(t.pid())).hasValue(unitPath + "/" + CgroupFreezer.V2.LEAF_PREFIX + t.pid());
                f.freeze(Duration.ofSeconds(5));
                Thread.sleep(50);
                long atFreeze = t.ticks().get();
                Thread.sleep(250);
                assertThat(t.ticks().get()).as("no progress while frozen").isEqualTo(atFreeze);
                f.thaw();
                awaitTicksAbove(t.ticks(), atFreeze + 3);
            }
            assertThat(cgroup).doesNotExist();
            assertThat(Cgroup2.pathOf(t.pid())).as("back in its unit's cgroup").hasValue(unitPath);
        } finally {
            children.close();
            removeCgroup(unit);
        }
    }

    /** What systemd does to stop a unit (cgroup.kill of its cgroup) still reaches a process checkpointd protects. */
    @Test
    void stoppingTheUnitStillStopsAProcessFrozenOnV2() throws Exception {
        Path unit = unitCgroup();
        try {
            Ticking t = startTicker();
            Cgroup2.move(t.pid(), unit);
            try (Freezer f = Freezer.forProcess(t.pid(), FreezerKind.V2)) {
                f.freeze(Duration.ofSeconds(5));
                f.thaw();
                Files.writeString(unit.resolve("cgroup.kill"), "1");
                assertThat(t.process().waitFor(10, TimeUnit.SECONDS)).as("killed with its unit's cgroup").isTrue();
            }
            assertThat(Files.readString(unit.resolve("cgroup.procs"))).isBlank();
        } finally {
            children.close();
            removeCgroup(unit);
        }
    }

    /** A primary that died with its process frozen: the backup finds the leaf through the process, thaws, removes it. */
    @Test
    void aStaleV2FreezerIsThawedAndRemoved() throws Exception {
        Path unit = unitCgroup();
        try {
            Ticking t = startTicker();
            Cgroup2.move(t.pid(), unit);
            Freezer f = Freezer.forProcess(t.pid(), FreezerKind.V2); // never closed: its owner "died"
            f.freeze(Duration.ofSeconds(5));
            Thread.sleep(50);
            long atFreeze = t.ticks().get();
            assertThat(StaleFreezer.release(t.pid())).isTrue();
            awaitTicksAbove(t.ticks(), atFreeze + 3);
            t.process().destroyForcibly().waitFor();
            assertThat(StaleFreezer.remove(t.pid(), Duration.ofSeconds(5))).isTrue();
            assertThat(f.cgroup()).doesNotExist();
        } finally {
            children.close();
            removeCgroup(unit);
        }
    }

    private record Ticking(Process process, int pid, AtomicLong ticks) {
    }

    private Ticking startTicker() throws Exception {
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
        return new Ticking(p, pid, ticks);
    }

    private static Path v2Root() {
        return FreezerKind.v2Root().orElseThrow();
    }

    /** A cgroup standing in for a systemd unit's. */
    private static Path unitCgroup() throws Exception {
        assumeTrue(FreezerKind.v2Root().isPresent(), "no cgroup2 mounted");
        assumeTrue(Syscalls.geteuid() == 0, "cgroup writes need root");
        return Files.createDirectory(v2Root().resolve("cpd-test-unit-" + ThreadLocalRandom.current().nextInt(1 << 30)));
    }

    private static void removeCgroup(Path dir) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (Files.isDirectory(dir)) {
            try (var s = Files.walk(dir)) {
                for (Path d : s.filter(Files::isDirectory).sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(d);
            } catch (Exception e) {
                if (System.nanoTime() > deadline) throw new AssertionError("cannot remove " + dir + ": " + e.getMessage());
                Thread.sleep(20); // killed tasks leave lazily
            }
        }
    }

    private void freezeThawCleanup(FreezerKind kind) throws Exception {
        assumeTrue(Syscalls.geteuid() == 0, "cgroup writes need root");
        Ticking t = startTicker();
        Process p = t.process();
        int pid = t.pid();
        AtomicLong ticks = t.ticks();

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
