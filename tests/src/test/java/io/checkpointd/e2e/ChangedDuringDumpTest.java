package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.Trackers;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.IncrementalEngine;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The incremental engine after a CRIU dump: a page CRIU read while it was changed, and that was changed back before
 * the next epoch, must be shipped by that epoch (the backup holds the bytes CRIU read). The kernel does this to a
 * thread's rseq area, whose {@code cpu_id} it rewrites on the CPU CRIU's parasite ran on; here the test does it, to a
 * page of a sleeping process's stack, between the tracker's arm and the dump, and undoes it right after the dump.
 */
class ChangedDuringDumpTest extends E2eTest {
    private static final int PAGE = 4096, AT = 0x800;

    @ParameterizedTest
    @ValueSource(strings = {"uffd-wp", "soft-dirty", "scan"})
    @Timeout(60)
    void aPageChangedOnlyWhileDumpedIsShippedByTheNextEpoch(String tracker) throws Exception {
        assumeTrue(Trackers.isUsable(tracker), () -> Trackers.availability().get(tracker));
        assumeTrue(FreezerKind.detect() != FreezerKind.NONE, "no cgroup freezer");
        int pid = startDetachedSleeper();
        try (Freezer real = Freezer.forProcess(pid)) {
            awaitSleeping(pid);
            Vma stack = ProcFs.maps(pid).stream().filter(v -> v.path().equals("[stack]")).findFirst().orElseThrow();
            long page = stack.end() - PAGE; // argv and environment strings: written at exec only
            byte original = peek(pid, page + AT);
            ChangingFreezer freezer = new ChangingFreezer(real, pid, page + AT, original);
            List<EpochRecord> second = new ArrayList<>();
            try (IncrementalEngine engine = new IncrementalEngine(Criu.locate(), pid, tmp.resolve("work"), tracker)) {
                CaptureEngine.Capture first = engine.capture(1, true, pause(freezer)); // a CRIU dump, thawed after
                assertThat(freezer.changes).as("the page changed during the dump").isEqualTo(1);
                assertThat(peek(pid, page + AT)).as("and changed back").isEqualTo(original);
                first.ship(r -> { });
                CaptureEngine.Capture next = engine.capture(2, false, pause(freezer));
                next.ship(second::add);
                assertThat(engine.stats().get("incrementalEpochs")).as("epoch 2 taken by the engine").isEqualTo(1L);
            }
            assertThat(shipped(second)).as("pages shipped by epoch 2 (%s tracker)", tracker).contains(page);
        } finally {
            Reaper.killAndReap(pid, Duration.ofSeconds(10));
        }
    }

    /**
     * {@code sleep} in a session of its own and not this JVM's child (the JVM's process reaper would take the
     * tracer's wait notifications of a child it spawned); its pid.
     */
    private int startDetachedSleeper() throws Exception {
        Path pidFile = tmp.resolve("sleeper.pid");
        Process setsid = new ProcessBuilder("setsid", "-f", "sh", "-c", "echo $$ > " + pidFile + "; exec sleep 600")
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(setsid.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).as("setsid -f returned").isTrue();
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!java.nio.file.Files.exists(pidFile) || java.nio.file.Files.readString(pidFile).isBlank()) {
            if (System.nanoTime() > deadline) throw new AssertionError("no pid from the sleeper");
            Thread.sleep(10);
        }
        return Integer.parseInt(java.nio.file.Files.readString(pidFile).trim());
    }

    /** Changes one byte of the process's page when CRIU is about to run (the dump asks for the cgroup), undoes it after. */
    private static final class ChangingFreezer implements Freezer {
        private final Freezer real;
        private final int pid;
        private final long at;
        private final byte original;
        private boolean sealed;
        private int changes;

        ChangingFreezer(Freezer real, int pid, long at, byte original) {
            this.real = real;
            this.pid = pid;
            this.at = at;
            this.original = original;
        }

        @Override
        public Path cgroup() {
            if (sealed && changes == 0) {
                try {
                    poke(pid, at, (byte) ~original);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                changes++;
            }
            return real.cgroup();
        }

        void changeBack() throws IOException {
            if (changes > 0) poke(pid, at, original);
        }

        @Override
        public int pid() {
            return real.pid();
        }

        @Override
        public FreezerKind kind() {
            return real.kind();
        }

        @Override
        public void freeze(Duration timeout) throws IOException {
            real.freeze(timeout);
        }

        @Override
        public void thaw() throws IOException {
            real.thaw();
        }

        @Override
        public boolean isFrozen() throws IOException {
            return real.isFrozen();
        }

        @Override
        public void close() throws IOException {
            real.close();
        }
    }

    /** Sealed just before the tracker's arm; {@code atCapture} follows the dump, before the process runs again. */
    private static CaptureEngine.Pause pause(ChangingFreezer freezer) {
        return new CaptureEngine.Pause() {
            @Override
            public Freezer freezer() {
                return freezer;
            }

            @Override
            public void freeze() throws IOException {
                freezer.freeze(Duration.ofSeconds(5));
            }

            @Override
            public void seal() {
                freezer.sealed = true;
            }

            @Override
            public void atCapture() throws IOException {
                freezer.changeBack();
            }
        };
    }

    private static List<Long> shipped(List<EpochRecord> records) {
        List<Long> out = new ArrayList<>();
        for (EpochRecord r : records) {
            long[] v = r instanceof EpochRecord.PageDelta d ? d.vaddrs() : r instanceof EpochRecord.PagesXor x ? x.vaddrs() : new long[0];
            for (long a : v) out.add(a);
        }
        return out;
    }

    private static byte peek(int pid, long at) throws IOException {
        try (RandomAccessFile mem = new RandomAccessFile(ProcFs.dir(pid).resolve("mem").toFile(), "r")) {
            mem.seek(at);
            return mem.readByte();
        }
    }

    private static void poke(int pid, long at, byte b) throws IOException {
        try (RandomAccessFile mem = new RandomAccessFile(ProcFs.dir(pid).resolve("mem").toFile(), "rw")) {
            mem.seek(at);
            mem.writeByte(b);
        }
    }

    /** Until the process runs sleep (after the shell's exec), in its sleep. */
    private static void awaitSleeping(int pid) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!ProcFs.dir(pid).resolve("comm").toFile().exists()
                || !java.nio.file.Files.readString(ProcFs.dir(pid).resolve("comm")).trim().equals("sleep")) {
            if (System.nanoTime() > deadline) throw new AssertionError("pid " + pid + " did not exec sleep");
            Thread.sleep(10);
        }
        Thread.sleep(100);
    }
}
