package io.checkpointd.bench;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
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
            long[] s = readDumpStats(img.resolve("stats-dump"));
            CriuDump d = new CriuDump(wall, s[1] / 1e3, s[2] / 1e3, s[3] / 1e3, s[4] / 1e3, s[7]);
            out.add(d);
            System.err.println("[bench] " + String.format(Locale.ROOT, "criu dump %d: wall %.0f ms, freezing %.1f ms, frozen %.1f ms (memdump %.1f, memwrite %.1f), %d pages",
                    i, d.wallMs(), d.freezingMs(), d.frozenMs(), d.memdumpMs(), d.memwriteMs(), d.pagesWritten()));
            ImageDirs.deleteTree(img);
            Thread.sleep(100); // one epoch of the workload between dumps
        }
        return out;
    }

    /**
     * Fields of {@code dump_stats_entry} (images/stats.proto) by number, from CRIU's {@code stats-dump} image:
     * magic(s), then a 32-bit length and the protobuf {@code stats_entry { optional dump_stats_entry dump = 1; }}.
     */
    static long[] readDumpStats(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        for (int off = 4; off <= 8; off += 4) {
            if (b.length < off + 4) continue;
            long len = le32(b, off);
            if (off + 4 + len != b.length) continue;
            long[] outer = new long[16];
            int[] sub = new int[2];
            parse(b, off + 4, b.length, outer, sub);
            long[] f = new long[16];
            if (sub[1] > 0) parse(b, sub[0], sub[0] + sub[1], f, null);
            return f;
        }
        throw new IOException("cannot parse " + file);
    }

    private static void parse(byte[] b, int pos, int end, long[] fields, int[] sub) {
        while (pos < end) {
            long[] v = new long[1];
            pos = varint(b, pos, v);
            int field = (int) (v[0] >>> 3), type = (int) (v[0] & 7);
            if (type == 0) {
                pos = varint(b, pos, v);
                if (field < fields.length) fields[field] = v[0];
            } else if (type == 2) {
                pos = varint(b, pos, v);
                if (sub != null && field == 1) {
                    sub[0] = pos;
                    sub[1] = (int) v[0];
                }
                pos += (int) v[0];
            } else {
                return; // not used by stats.proto
            }
        }
    }

    private static int varint(byte[] b, int pos, long[] out) {
        long r = 0;
        int shift = 0;
        while (true) {
            int x = b[pos++] & 0xff;
            r |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) break;
            shift += 7;
        }
        out[0] = r;
        return pos;
    }

    private static long le32(byte[] b, int off) {
        return (b[off] & 0xffL) | (b[off + 1] & 0xffL) << 8 | (b[off + 2] & 0xffL) << 16 | (b[off + 3] & 0xffL) << 24;
    }
}
