package io.checkpointd.linux.track;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Not a test: the cost of one collect (and of PresentPages) per tracker on a child JVM with a 256 MiB touched
 * region, 1,024 pages written at random per epoch. Runs only with {@code -Dcheckpointd.measure=true}.
 */
@Timeout(300)
class TrackerCostMeasurement {
    @Test
    void measure() throws Exception {
        assumeTrue(Boolean.getBoolean("checkpointd.measure"), "measurement: run with -Dcheckpointd.measure=true");
        assumeTrue(Features.ptrace().isAvailable());
        int epochs = Integer.getInteger("checkpointd.measure.rounds", 20);
        for (String kind : Trackers.KINDS) {
            if (!Trackers.isUsable(kind)) continue;
            try (TrackChildProcess child = new TrackChildProcess()) {
                child.alloc("big", 65536, true);
                try (DirtyTracker t = Trackers.open(kind, child.pid())) {
                    child.paused(sp -> {
                        t.arm(ProcFs.maps(child.pid()));
                        return null;
                    });
                    long[] collect = new long[epochs], present = new long[epochs], maps = new long[epochs];
                    long bytes = 0;
                    java.util.Random rnd = new java.util.Random(1);
                    for (int e = 0; e < epochs; e++) {
                        for (int k = 0; k < 16; k++) child.cmd("write big " + rnd.nextInt(65536 - 64) + " 64 " + e);
                        int ep = e;
                        bytes += child.paused(sp -> {
                            long t0 = System.nanoTime();
                            List<Vma> m = ProcFs.maps(child.pid());
                            long t1 = System.nanoTime();
                            List<RemoteRange> got = t.collect(m);
                            long t2 = System.nanoTime();
                            PresentPages.of(child.pid(), m);
                            long t3 = System.nanoTime();
                            maps[ep] = t1 - t0;
                            collect[ep] = t2 - t1;
                            present[ep] = t3 - t2;
                            return Ranges.total(got);
                        });
                    }
                    if (kind.equals("uffd-wp")) presentVariants(child);
                    System.out.printf(Locale.ROOT, "%s: RSS %s, median collect %.2f ms, PresentPages %.2f ms, maps %.2f ms;"
                            + " %.1f MiB reported per epoch (1,024 pages written)%n", kind,
                            ProcFs.statusField(child.pid(), "VmRSS").orElse("?"), med(collect) / 1e6, med(present) / 1e6,
                            med(maps) / 1e6, bytes / (double) epochs / (1 << 20));
                }
            }
        }
    }

    /** Which part of PresentPages costs: the FILE/PFNZERO categorisation or the walk itself. */
    private static void presentVariants(TrackChildProcess child) throws Exception {
        child.paused(sp -> {
            List<Vma> m = ProcFs.maps(child.pid());
            long any = io.checkpointd.linux.uffd.PagemapScan.PAGE_IS_PRESENT | io.checkpointd.linux.uffd.PagemapScan.PAGE_IS_SWAPPED;
            long ex = io.checkpointd.linux.uffd.PagemapScan.PAGE_IS_FILE | io.checkpointd.linux.uffd.PagemapScan.PAGE_IS_PFNZERO;
            long zero = io.checkpointd.linux.uffd.PagemapScan.PAGE_IS_PFNZERO;
            long[][] t = new long[4][15];
            try (io.checkpointd.linux.uffd.PagemapScan s = io.checkpointd.linux.uffd.PagemapScan.open(child.pid())) {
                for (int rep = 0; rep < 15; rep++) {
                    long t0 = System.nanoTime();
                    for (Vma v : m) if (v.isPrivate() && !Ranges.isSpecial(v)) s.scan(v.start(), v.end(), 0, 0, any, 0, any);
                    long t1 = System.nanoTime();
                    for (Vma v : m) if (v.isPrivate() && !Ranges.isSpecial(v)) s.scan(v.start(), v.end(), 0, zero, any, zero, any);
                    long t2 = System.nanoTime();
                    for (Vma v : m) if (v.isPrivate() && !Ranges.isSpecial(v)) s.scan(v.start(), v.end(), 0, ex, any, ex, any);
                    long t3 = System.nanoTime();
                    PresentPages.of(s, m);
                    long t4 = System.nanoTime();
                    t[0][rep] = t1 - t0;
                    t[1][rep] = t2 - t1;
                    t[2][rep] = t3 - t2;
                    t[3][rep] = t4 - t3;
                }
            }
            System.out.printf(Locale.ROOT, "PresentPages variants (median of 15): present|swapped only %.2f ms, minus pfnzero %.2f ms,"
                    + " minus file|pfnzero everywhere %.2f ms, as built (file only in file VMAs) %.2f ms%n",
                    med(t[0]) / 1e6, med(t[1]) / 1e6, med(t[2]) / 1e6, med(t[3]) / 1e6);
            return null;
        });
    }

    private static double med(long[] a) {
        long[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
