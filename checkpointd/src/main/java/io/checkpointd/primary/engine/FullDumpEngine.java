package io.checkpointd.primary.engine;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The full engine: a {@code criu dump --leave-running} of the whole process into tmpfs every epoch; the delta against
 * the previous dump (4 KiB pages by virtual address, image files whole) is computed after the thaw. The pause is
 * the whole dump: proportional to the process's memory, not to what it wrote.
 */
public final class FullDumpEngine implements CaptureEngine {
    private final Criu criu;
    private final int pid;
    private final Path work;
    private Path prev;
    private volatile long dumps;

    public FullDumpEngine(Criu criu, int pid, Path work) {
        this.criu = criu;
        this.pid = pid;
        this.work = work;
    }

    @Override
    public String name() {
        return "criu-full";
    }

    @Override
    public String tracker() {
        return "criu-full-dump";
    }

    /** Every epoch is a CRIU dump: one reason, in the incremental engine's keys. */
    @Override
    public java.util.Map<String, Object> stats() {
        long d = dumps;
        return java.util.Map.of("incrementalEpochs", 0L, "criuDumps", d, "criuDumpReasons", java.util.Map.of("full-dump engine", d));
    }

    @Override
    public Capture capture(long n, boolean full, Pause pause) throws IOException {
        Path cur = work.resolve("epoch-" + n);
        Files.createDirectories(cur);
        Freezer freezer = pause.freezer();
        try {
            pause.freeze();
            pause.seal();
            Dumps.dump(criu, pid, cur, freezer);
            dumps++;
            pause.atCapture(); // still frozen: CRIU leaves the cgroup as it found it
        } catch (IOException | RuntimeException e) {
            ImageDirs.deleteTree(cur);
            throw e;
        }
        freezer.thaw();
        long resumed = System.nanoTime();
        Path base = full ? null : prev;
        return new Capture() {
            @Override
            public boolean full() {
                return base == null;
            }

            @Override
            public long resumedAtNanos() {
                return resumed;
            }

            @Override
            public long capturedBytes() {
                return dirBytes(cur);
            }

            @Override
            public Delta ship(RecordSink sink) throws IOException {
                DeltaComputer.Result r = DeltaComputer.compute(base, cur, sink::accept);
                if (prev != null) ImageDirs.deleteTree(prev);
                prev = cur;
                return new Delta(r.manifest(), r.records(), r.changedPages(), r.shippedFileBytes());
            }

            @Override
            public void discard() {
                try {
                    ImageDirs.deleteTree(cur);
                } catch (IOException e) {
                    // the next start removes stale captures
                }
            }
        };
    }

    /** Bytes of the image files in {@code dir}, or -1 if it cannot be listed. */
    public static long dirBytes(Path dir) {
        long total = 0;
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (DeltaComputer.isImageFile(p.getFileName().toString())) total += Files.size(p);
            }
        } catch (IOException e) {
            return -1;
        }
        return total;
    }

    @Override
    public void close() {
        try {
            if (prev != null) ImageDirs.deleteTree(prev);
        } catch (IOException e) {
            // removed with the work dir
        }
    }
}
