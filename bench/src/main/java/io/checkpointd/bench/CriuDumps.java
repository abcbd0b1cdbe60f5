package io.checkpointd.bench;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.protocol.image.DumpStats;
import io.checkpointd.protocol.image.ImageDirs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Full {@code criu dump --leave-running} of the floor's workload, the engine {@link IncrementalFloorBenchmark} sets
 * the floor against, with CRIU's own phase times read back from its {@code stats-dump} image.
 */
final class CriuDumps {
    /** One dump: wall time, and CRIU's freezing, frozen, memdump and memwrite times (ms) and pages written. */
    record CriuDump(double wallMs, double freezingMs, double frozenMs, double memdumpMs, double memwriteMs,
            long pagesWritten) {
    }

    private CriuDumps() {
    }

    /** {@code count} dumps of {@code pid} into {@code dir}/criu-N, one after another, each deleted once read. */
    static List<CriuDump> run(int pid, Freezer freezer, Path dir, int count) throws Exception {
        List<CriuDump> out = new ArrayList<>();
        if (count <= 0) return out;
        Criu criu = Criu.locate();
        for (int i = 0; i < count; i++) {
            Path img = Files.createDirectory(dir.resolve("criu-" + i));
            long t0 = System.nanoTime();
            criu.dump(DumpOptions.builder(pid, img).leaveRunning(true).freezeCgroup(freezer.cgroup().toString())
                    .logFile("dump.log").build());
            double wall = (System.nanoTime() - t0) / 1e6;
            DumpStats s = DumpStats.read(img.resolve("stats-dump"));
            CriuDump d = new CriuDump(wall, s.freezingUs() / 1e3, s.frozenUs() / 1e3, s.memdumpUs() / 1e3, s.memwriteUs() / 1e3, s.pagesWritten());
            out.add(d);
            System.err.println("[bench] " + String.format(Locale.ROOT, "criu dump %d: wall %.0f ms, freezing %.1f ms, frozen %.1f ms (memdump %.1f, memwrite %.1f), %d pages",
                    i, d.wallMs(), d.freezingMs(), d.frozenMs(), d.memdumpMs(), d.memwriteMs(), d.pagesWritten()));
            ImageDirs.deleteTree(img);
            Thread.sleep(100); // one epoch of the workload between dumps
        }
        return out;
    }
}
