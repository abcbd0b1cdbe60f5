package io.checkpointd.primary.capture.disk;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.Syscalls;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Compares a file with its block hashes of the previous epoch and emits the changed blocks. Only the file's
 * data extents are read ({@code SEEK_DATA}/{@code SEEK_HOLE}): a hole costs nothing, so a sparse file costs
 * its data, not its size. 64-bit XXH64 rather than CRC32C: a collision is a silently lost write, and 2^-64
 * per changed block is far below the disk's own error rate, while 2^-32 is not.
 */
final class BlockHasher {
    static final int BLOCK = 4096;
    /** The hash recorded for a hole block; a real hash that happens to be 0 is stored as 1. */
    static final long HOLE = 0;
    /** Largest {@link DirChange.Blocks} run: bounds the memory of one record and fits a frame after LZ4. */
    static final int MAX_RUN = 1 << 20;
    private static final int READ = 256 * 1024;
    private static final XXHash64 XX = XXHashFactory.fastestInstance().hash64();

    private static final byte[] ZEROS = new byte[BLOCK];
    private final byte[] buf = new byte[READ];
    /** Reused by every file's {@link Run}: allocating it per file made a 10k-file first copy allocate 10 GiB. */
    private final byte[] runBuf = new byte[MAX_RUN];
    private long bytesRead;

    long bytesRead() {
        return bytesRead;
    }

    /**
     * Hashes {@code file} ({@code size} bytes now), emits a {@link DirChange.Blocks} for every run of blocks whose
     * hash differs from {@code old} (a block past the old end counts as a hole), and returns the new hashes.
     */
    long[] diff(Path file, String rel, long size, long[] old, Consumer<DirChange> out) throws IOException {
        int n = (int) ((size + BLOCK - 1) / BLOCK);
        long[] now = new long[n];
        Run run = new Run(rel, out, runBuf);
        try (FileDescriptor fd = Syscalls.open(file.toString(), Syscalls.O_RDONLY);
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long pos = 0;
            while (pos < size) {
                long data = Syscalls.seek(fd, pos, Syscalls.SEEK_DATA);
                long dataStart = data < 0 || data >= size ? size : data / BLOCK * BLOCK;
                holes(pos / BLOCK, (dataStart + BLOCK - 1) / BLOCK, size, old, run);
                if (dataStart >= size) break;
                long hole = Syscalls.seek(fd, dataStart, Syscalls.SEEK_HOLE);
                long dataEnd = Math.min(size, hole < 0 ? size : (hole + BLOCK - 1) / BLOCK * BLOCK);
                read(ch, dataStart, dataEnd, size, old, now, run);
                pos = dataEnd;
            }
        }
        run.flush();
        return now;
    }

    /** Blocks {@code [from, to)} are holes now: a block that held data before reads as zeros now. */
    private static void holes(long from, long to, long size, long[] old, Run run) {
        for (long b = from; b < to; b++) {
            int len = (int) Math.min(BLOCK, size - b * BLOCK); // never write past the end: that would extend
            if (b < old.length && old[(int) b] != HOLE) run.add(b * BLOCK, ZEROS, 0, len);
            else run.flush();
        }
    }

    private void read(FileChannel ch, long start, long end, long size, long[] old, long[] now, Run run) throws IOException {
        for (long off = start; off < end; ) {
            int want = (int) Math.min(READ, end - off);
            ByteBuffer bb = ByteBuffer.wrap(buf, 0, want);
            while (bb.hasRemaining()) {
                if (ch.read(bb, off + bb.position()) < 0) break; // shrank under us: cannot happen while frozen
            }
            int got = bb.position();
            bytesRead += got;
            for (int i = 0; i < got; i += BLOCK) {
                int len = Math.min(BLOCK, got - i);
                int b = (int) ((off + i) / BLOCK);
                // a partial last block is hashed zero-padded: that is how it reads once the file is extended, so an
                // extension (which the replica's Resize zero-fills) does not re-ship the old tail block
                if (len < BLOCK) Arrays.fill(buf, i + len, i + BLOCK, (byte) 0);
                long h = XX.hash(buf, i, BLOCK, 0x636b7074L);
                now[b] = h == HOLE ? 1 : h;
                if (b >= old.length || old[b] != now[b]) run.add(off + i, buf, i, len);
                else run.flush();
            }
            if (got < want) break;
            off += got;
        }
    }

    /** Merges contiguous changed blocks into one record of at most {@link #MAX_RUN} bytes. */
    private static final class Run {
        private final String rel;
        private final Consumer<DirChange> out;
        private long start = -1;
        private final byte[] data;
        private int len;

        Run(String rel, Consumer<DirChange> out, byte[] data) {
            this.rel = rel;
            this.out = out;
            this.data = data;
        }

        void add(long off, byte[] src, int from, int n) {
            if (start >= 0 && (off != start + len || len + n > MAX_RUN)) flush();
            if (start < 0) start = off;
            System.arraycopy(src, from, data, len, n);
            len += n;
        }

        void flush() {
            if (start < 0) return;
            out.accept(new DirChange.Blocks(rel, start, Arrays.copyOf(data, len)));
            start = -1;
            len = 0;
        }
    }
}
