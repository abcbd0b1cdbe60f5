package io.checkpointd.protocol.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CRIU's own account of a dump, from the {@code stats-dump} image it leaves in the image directory
 * ({@code dump_stats_entry} of images/stats.proto): its phase times and page counts.
 *
 * @param freezingUs   freezing the tree
 * @param frozenUs     the tree frozen, from the end of freezing to the resume
 * @param memdumpUs    of that, collecting the pages (pagemap reads, the parasite's vmsplice)
 * @param memwriteUs   writing the pages image
 * @param pagesScanned pages whose pagemap entries CRIU read
 * @param pagesWritten pages written to the pages image
 */
public record DumpStats(long freezingUs, long frozenUs, long memdumpUs, long memwriteUs, long pagesScanned, long pagesWritten) {
    /** Parses {@code file}: magic(s), a 32-bit length, then {@code stats_entry { optional dump_stats_entry dump = 1; }}. */
    public static DumpStats read(Path file) throws IOException {
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
            return new DumpStats(f[1], f[2], f[3], f[4], f[5], f[7]);
        }
        throw new IOException("cannot parse " + file);
    }

    private static void parse(byte[] b, int pos, int end, long[] fields, int[] sub) throws IOException {
        try {
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
        } catch (ArrayIndexOutOfBoundsException e) {
            throw new IOException("truncated stats image");
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
