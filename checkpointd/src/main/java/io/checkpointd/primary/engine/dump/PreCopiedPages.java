package io.checkpointd.primary.engine.dump;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.linux.track.PresentPages;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.primary.engine.state.Structure;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The private anonymous memory of a process copied while it runs, for a base dump that freezes it only for the rest
 * ({@link FirstPreCopy}). The copy is armed-tracker exact: it starts after the tracker was armed, so a page it holds
 * whose tracker never reported it written nor removed, in a range the tracker followed throughout, still has the
 * copied bytes when the process is frozen ({@link #skippable}). Pages the tracker reported written while it ran are
 * copied again ({@link #recopy}) after it protected them again, so that only the last round's writes go to CRIU.
 *
 * <p>The pages sit in {@code file} in address order of {@link #ranges()}, as in a CRIU pages image.
 */
final class PreCopiedPages implements AutoCloseable {
    private static final int PAGE = 4096;
    /**
     * The copy goes through one direct buffer of this size: process_vm_readv into it, then a write to the file. Small,
     * so that it fits beside the staging buffers in protect's direct memory; a chunk that cannot be read is left out.
     */
    static final int CHUNK = 1 << 20;

    private final Path file;
    private final long[] ranges;
    /** The copied VMAs as they were mapped when the copy began. */
    private final Set<Vma> vmas;
    /** Pages a {@link #recopy} could not read again: their slots in the file are stale, never skippable. */
    private long[] stale = Ranges.EMPTY;

    /** Pages of {@code ranges} already in {@code file}, in order, copied from {@code vmas} (tests build one). */
    PreCopiedPages(Path file, long[] ranges, Set<Vma> vmas) {
        this.file = file;
        this.ranges = ranges;
        this.vmas = vmas;
    }

    /** The VMAs copied ahead: private anonymous writable ones, which the tracker follows and hold a JVM's heap. */
    static boolean copied(Vma v) {
        return Structure.isAnonymousPrivate(v) && v.isWritable() && !v.isSpecial();
    }

    /**
     * Copies the present pages of the {@link #copied} VMAs of {@code maps} into {@code file}, the process running. A
     * chunk that cannot be read whole (unmapped meanwhile) is left out: CRIU dumps whatever is there at the freeze.
     *
     * @throws IOException also when the copy buffer cannot be had: the caller then dumps whole
     */
    static PreCopiedPages copy(int pid, List<Vma> maps, Path file) throws IOException {
        // maps read while the process runs may show a VMA twice (one changed between two reads of the file), so the
        // present ranges may overlap: the copy walks their union, which is what the ranges of the file count
        long[] present = Ranges.of(PresentPages.of(pid, maps, PreCopiedPages::copied));
        List<long[]> done = new ArrayList<>();
        ByteBuffer buf = copyBuffer();
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            for (int i = 0; i < present.length; i += 2) {
                for (long a = present[i], end = present[i + 1]; a < end; a += CHUNK) {
                    int len = (int) Math.min(CHUNK, end - a);
                    buf.clear().limit(len);
                    try {
                        ProcessMemory.read(pid, List.of(new ProcessMemory.RemoteRange(a, len)), buf);
                    } catch (SyscallException e) {
                        continue; // a hole in the chunk (read resumes after short counts, so this is one)
                    }
                    buf.flip();
                    while (buf.hasRemaining()) out.write(buf);
                    done.add(new long[] {a, a + len});
                }
            }
        }
        Set<Vma> vmas = new HashSet<>();
        for (Vma v : maps) if (copied(v)) vmas.add(v);
        return new PreCopiedPages(file, Ranges.of(toRemote(done)), vmas);
    }

    /**
     * Copies again, the process running, the pages of the copy among {@code written}, which the tracker has just
     * reported and protected again: their slots in the file take the newer bytes, and the dump's freeze then has to
     * leave to CRIU only what is written after this. A chunk that cannot be read is marked stale.
     *
     * @return the bytes copied again
     */
    long recopy(int pid, List<ProcessMemory.RemoteRange> written) throws IOException {
        long[] again = Ranges.intersect(ranges, Ranges.of(written));
        if (again.length == 0) return 0;
        ByteBuffer buf = copyBuffer();
        long[] offsets = offsets();
        long done = 0;
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.WRITE)) {
            int k = 0; // the copied range holding the next piece
            for (int i = 0; i < again.length; i += 2) {
                while (ranges[k + 1] <= again[i]) k += 2;
                for (long a = again[i], end = again[i + 1]; a < end; a += CHUNK) {
                    int len = (int) Math.min(CHUNK, end - a);
                    buf.clear().limit(len);
                    try {
                        ProcessMemory.read(pid, List.of(new ProcessMemory.RemoteRange(a, len)), buf);
                    } catch (SyscallException e) {
                        stale = Ranges.union(stale, new long[] {a, a + len});
                        continue;
                    }
                    buf.flip();
                    long at = offsets[k / 2] + (a - ranges[k]);
                    while (buf.hasRemaining()) at += out.write(buf, at);
                    done += len;
                }
            }
        }
        return done;
    }

    private static ByteBuffer copyBuffer() throws IOException {
        try {
            return ByteBuffer.allocateDirect(CHUNK);
        } catch (OutOfMemoryError e) { // direct memory exhausted: a matter for this dump, not for protect
            throw new IOException("no direct memory for the copy buffer: " + e.getMessage());
        }
    }

    /** The file offset of each copied range's first page. */
    private long[] offsets() {
        long[] o = new long[ranges.length / 2];
        long off = 0;
        for (int i = 0; i < ranges.length; i += 2) {
            o[i / 2] = off;
            off += ranges[i + 1] - ranges[i];
        }
        return o;
    }

    /** Sorted, disjoint {start, end} pairs flattened, as {@link Ranges} keeps them. */
    long[] ranges() {
        return ranges;
    }

    long bytes() {
        return Ranges.bytes(ranges);
    }

    Path file() {
        return file;
    }

    /**
     * With the process frozen, after the tracker's collect returned {@code written}: the copied pages that still
     * hold the copied bytes. Not written since the arming, not removed ({@code MADV_DONTNEED}), and inside a range
     * the tracker followed without a break (a range unmapped and mapped again is not followed, nor is one
     * registered only at this collect), within a VMA of {@code mapsNow} mapped exactly as when the copy began (a
     * belt to the tracker's braces: whatever was unmapped, moved or re-protected meanwhile, CRIU dumps).
     */
    long[] skippable(long[] written, DirtyTracker.Followed followed, List<Vma> mapsNow) {
        if (followed == null) return Ranges.EMPTY; // a tracker that cannot tell removals: nothing is sure
        long[] removed = Ranges.of(followed.removed());
        long[] kept = Ranges.subtract(Ranges.subtract(Ranges.subtract(ranges, written), removed), stale);
        long[] unchanged = Ranges.ofVmas(mapsNow, vmas::contains);
        return Ranges.intersect(Ranges.intersect(kept, Ranges.of(followed.ranges())), unchanged);
    }

    /** Writes {@code skip} as CRIU's {@code --skip-pages-in} reads it: {@code start-end} in hex, a line. */
    static void writeSkipFile(long[] skip, Path to) throws IOException {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < skip.length; i += 2) b.append(Long.toHexString(skip[i])).append('-').append(Long.toHexString(skip[i + 1])).append('\n');
        Files.writeString(to, b, StandardCharsets.US_ASCII);
    }

    /**
     * Rewrites CRIU's pagemap and pages image in {@code dir} with the pages of {@code skipped} (which CRIU left out)
     * added from the copy: runs in address order, adjacent present runs joined, as CRIU writes them.
     *
     * @return the merged pagemap image
     */
    byte[] mergeInto(Path dir, Pagemap criu, long[] skipped) throws IOException {
        List<Pagemap.Run> runs = new ArrayList<>(criu.runs().size() + skipped.length / 2);
        Path merged = dir.resolve(criu.pagesFileName() + ".merged");
        try (FileChannel criuPages = FileChannel.open(dir.resolve(criu.pagesFileName()), StandardOpenOption.READ);
             FileChannel copy = FileChannel.open(file, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(merged, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
            int c = 0, s = 0, k = 0;
            long copyOff = 0; // offset in the copy of ranges[k]
            List<Pagemap.Run> in = criu.runs();
            while (c < in.size() || s < skipped.length) {
                boolean fromCriu = s >= skipped.length || (c < in.size() && in.get(c).vaddr() < skipped[s]);
                Pagemap.Run r;
                if (fromCriu) {
                    r = in.get(c++);
                    if (r.present()) transfer(criuPages, r.dataIndex() * PAGE, r.nrPages() * PAGE, out);
                } else {
                    long start = skipped[s], end = skipped[s + 1];
                    s += 2;
                    while (ranges[k + 1] <= start) {
                        copyOff += ranges[k + 1] - ranges[k];
                        k += 2;
                    }
                    transfer(copy, copyOff + (start - ranges[k]), end - start, out);
                    r = new Pagemap.Run(start, (end - start) / PAGE, Pagemap.PE_PRESENT, 0);
                }
                Pagemap.Run last = runs.isEmpty() ? null : runs.get(runs.size() - 1);
                if (last != null && last.flags() == r.flags() && last.present() && r.present()
                        && last.vaddr() + last.nrPages() * PAGE == r.vaddr()) {
                    runs.set(runs.size() - 1, new Pagemap.Run(last.vaddr(), last.nrPages() + r.nrPages(), last.flags(), 0));
                } else {
                    runs.add(r);
                }
            }
        }
        Files.move(merged, dir.resolve(criu.pagesFileName()), StandardCopyOption.REPLACE_EXISTING);
        return Pagemap.of(criu.pagesId(), runs).encode();
    }

    private static void transfer(FileChannel from, long pos, long len, FileChannel to) throws IOException {
        long done = 0;
        while (done < len) {
            long n = from.transferTo(pos + done, len - done, to);
            if (n <= 0) throw new IOException("short pages file: " + (pos + done) + " of " + (pos + len));
            done += n;
        }
    }

    private static List<ProcessMemory.RemoteRange> toRemote(List<long[]> rs) {
        List<ProcessMemory.RemoteRange> out = new ArrayList<>(rs.size());
        for (long[] r : rs) out.add(new ProcessMemory.RemoteRange(r[0], r[1] - r[0]));
        return out;
    }

    @Override
    public void close() throws IOException {
        Files.deleteIfExists(file);
    }
}
