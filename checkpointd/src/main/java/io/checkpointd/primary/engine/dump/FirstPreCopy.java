package io.checkpointd.primary.engine.dump;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.EngineSettings;
import io.checkpointd.primary.engine.status.EngineStats;
import io.checkpointd.protocol.image.DumpStats;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first base dump of a process without freezing it for all its memory. A short freeze arms the tracker; the
 * private anonymous memory is then copied while the process runs ({@link PreCopiedPages}), and what it wrote
 * meanwhile copied again in a few rounds (the tracker's precollect protects it again first); at the dump's freeze the
 * tracker's collect says which copied pages are still as copied, CRIU leaves exactly those out
 * ({@code --skip-pages-in}, scripts/criu-patches) and dumps everything else, written pages included, at the frozen
 * instant; after the thaw the copied pages are merged into CRIU's pagemap and pages image, so the base is an
 * ordinary CRIU dump to the rest of the engine, the shipper and the backup.
 *
 * <p>Only the first base dump takes this path: later ones (structure changes) find the tracker armed and the
 * process written to only since the last epoch, and are rarely large. It needs the uffd-wp tracker (it hears of
 * removals and of ranges replaced, so the kept pages are exact) and a CRIU with the option; otherwise the dump is
 * whole, as before.
 */
final class FirstPreCopy {
    private static final Logger log = LoggerFactory.getLogger(FirstPreCopy.class);

    /**
     * Fault point for tests: ms the process runs after the copy before the rounds that copy again what it wrote
     * meanwhile, so that it writes to copied pages (the memory oracle test); 0 by default.
     */
    static final String HOLD_PROPERTY = "checkpointd.fault.firstPrecopyHoldMs";

    private final int pid;
    private final DirtyTracker tracker;
    private final Path work;
    private PreCopiedPages copy;
    private long[] skipped = Ranges.EMPTY;
    /** Rounds of {@link #recopyRounds} at most, and the bytes of a round small enough to end them. */
    private static final int RECOPY_ROUNDS = 3;
    private static final long RECOPY_ENOUGH = 16L << 20;

    private long armNanos, copyNanos, runningNanos;
    private long recopied;
    private int rounds;
    private long copiedAt;

    private FirstPreCopy(int pid, DirtyTracker tracker, Path work) {
        this.pid = pid;
        this.tracker = tracker;
        this.work = work;
    }

    /** Whether a first dump of {@code pid} can be pre-copied here; says why not in the log. */
    static boolean usable(Criu criu, DirtyTracker tracker, int pid) throws IOException {
        if (!EngineSettings.firstPrecopy()) return false;
        if (hasChildren(pid)) {
            // CRIU would leave the ranges out of every process of the tree, the merge adds them to this one only
            log.info("first epoch: whole CRIU dump (pid {} has children)", pid);
            return false;
        }
        if (!"uffd-wp".equals(tracker.name())) {
            log.info("first epoch: whole CRIU dump (pre-copy needs the uffd-wp tracker, not {})", tracker.name());
            return false;
        }
        if (!criu.canSkipPages()) {
            log.info("first epoch: whole CRIU dump ({} lacks --skip-pages-in: run scripts/install-criu)", criu.binary());
            return false;
        }
        return true;
    }

    private static boolean hasChildren(int pid) throws IOException {
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(ProcFs.dir(pid).resolve("task"))) {
            for (Path t : tasks) {
                try {
                    if (!Files.readString(t.resolve("children")).isBlank()) return true;
                } catch (NoSuchFileException e) {
                    // the thread ended
                }
            }
        }
        return false;
    }

    /**
     * Arms the tracker in a short freeze, then copies the memory with the process running. Returns with the
     * process running and the tracker armed; the caller then freezes for the dump. Null when the copy failed
     * (logged): the caller's dump is then whole, arming the tracker again in its freeze.
     */
    static FirstPreCopy run(int pid, DirtyTracker tracker, CaptureEngine.Pause pause, Path work, long n) throws IOException {
        FirstPreCopy p = new FirstPreCopy(pid, tracker, work);
        long t0 = System.nanoTime();
        pause.freeze(); // a failed freeze fails the epoch, as it would the dump's
        try {
            tracker.arm(ProcFs.maps(pid));
        } finally {
            pause.freezer().thaw();
        }
        long t1 = System.nanoTime();
        p.armNanos = t1 - t0;
        p.copiedAt = t1;
        Path file = work.resolve("precopy-" + n + ".pages");
        try {
            p.copy = PreCopiedPages.copy(pid, ProcFs.maps(pid), file);
        } catch (IOException | RuntimeException e) {
            log.warn("pid {}: first epoch: the pre-copy failed ({}); a whole CRIU dump instead", pid, e.getMessage());
            Files.deleteIfExists(file);
            return null;
        }
        long hold = Long.getLong(HOLD_PROPERTY, 0);
        if (hold > 0) {
            try {
                Thread.sleep(hold);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            p.recopyRounds(pid);
        } catch (IOException | RuntimeException e) {
            // a failed precollect may have protected pages again without saying which: the copy cannot be trusted
            log.warn("pid {}: first epoch: copying the pages written meanwhile failed ({}); a whole CRIU dump instead", pid, e.getMessage());
            p.copy.close();
            return null;
        }
        p.copyNanos = System.nanoTime() - t1;
        return p;
    }

    /**
     * The pages the process wrote during the copy, copied again (the tracker protects them again first) in rounds
     * until one is small: the dump's freeze then leaves to CRIU only what was written during the last round.
     */
    private void recopyRounds(int pid) throws IOException {
        for (int round = 0; round < RECOPY_ROUNDS; round++) {
            List<ProcessMemory.RemoteRange> written = tracker.precollect();
            if (written == null) return;
            long b = copy.recopy(pid, written);
            recopied += b;
            rounds++;
            if (b < RECOPY_ENOUGH) return;
        }
    }

    /** Just before the dump's freeze: the process ran since the arming thaw. */
    void freezing() {
        freezingAt = System.nanoTime();
        runningNanos = freezingAt - copiedAt;
    }

    /** CRIU's dump is done (the process still frozen). */
    void dumped() {
        dumpedAt = System.nanoTime();
    }

    private long freezingAt, skipAt, dumpedAt;

    /**
     * Frozen, right after the tracker's collect returned {@code written} ({@code maps}: read then): writes the ranges CRIU may leave out and
     * returns their file, or null when none is left.
     */
    Path skipFile(long[] written, List<Vma> maps, long n) throws IOException {
        skipAt = System.nanoTime();
        skipped = copy.skippable(written, tracker.followed(), maps);
        if (skipped.length == 0) return null;
        Path f = work.resolve("precopy-" + n + ".ranges");
        PreCopiedPages.writeSkipFile(skipped, f);
        return f;
    }

    /** After the thaw: CRIU's dump in {@code dir} with the skipped pages added; logs what it took. */
    void merge(Path dir) throws IOException {
        long t0 = System.nanoTime();
        if (skipped.length > 0) {
            Path pm = dir.resolve("pagemap-" + pid + ".img");
            Pagemap criu = Pagemap.parse(Files.readAllBytes(pm));
            Files.write(pm, copy.mergeInto(dir, criu, skipped));
        }
        log.info("pid {}: first epoch pre-copied {} MiB in {} ms ({} MiB written meanwhile copied again in {} rounds) after a {} ms freeze to arm the tracker; {} MiB of it"
                        + " still as copied at the dump, left out of CRIU's and merged in {} ms; the dump's freeze: {} ms to"
                        + " the tracker's collect, {} ms of CRIU ({})",
                pid, copy.bytes() >> 20, copyNanos / 1_000_000, recopied >> 20, rounds, armNanos / 1_000_000, Ranges.bytes(skipped) >> 20,
                (System.nanoTime() - t0) / 1_000_000, (skipAt - freezingAt) / 1_000_000, (dumpedAt - skipAt) / 1_000_000,
                criuStats(dir));
    }

    /** CRIU's own times and page counts of the dump in {@code dir}, for the log. */
    private static String criuStats(Path dir) {
        try {
            DumpStats d = DumpStats.read(dir.resolve("stats-dump"));
            return String.format(Locale.ROOT, "its own account: freezing %.1f ms, frozen %.1f ms, of it collecting pages %.1f ms and"
                    + " writing %.1f ms; %d pages scanned, %d written", d.freezingUs() / 1e3, d.frozenUs() / 1e3,
                    d.memdumpUs() / 1e3, d.memwriteUs() / 1e3, d.pagesScanned(), d.pagesWritten());
        } catch (IOException e) {
            return "no stats-dump: " + e.getMessage();
        }
    }

    void report(EngineStats stats) {
        stats.firstPrecopy(copy.bytes(), recopied, Ranges.bytes(skipped), armNanos, skipAt - freezingAt, dumpedAt - skipAt);
    }

    /** Nanoseconds the process ran between the arming freeze and the dump's: not part of the epoch's pause. */
    long runningNanos() {
        return runningNanos;
    }

    /** Deletes the copy and the ranges file. */
    void close(long n) {
        try {
            if (copy != null) copy.close();
            Files.deleteIfExists(work.resolve("precopy-" + n + ".ranges"));
        } catch (IOException e) {
            log.warn("removing the pre-copy of pid {}: {}", pid, e.getMessage());
        }
    }
}
