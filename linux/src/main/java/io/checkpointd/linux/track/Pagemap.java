package io.checkpointd.linux.track;

import com.sun.jna.Pointer;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * {@code /proc/PID/pagemap} read the classic way: one 64-bit entry per page ({@code Documentation/admin-guide/mm/pagemap.rst}).
 * Used where {@code PAGEMAP_SCAN} is missing and by the soft-dirty tracker. Reuses one direct buffer; not
 * thread-safe.
 */
final class Pagemap implements AutoCloseable {
    static final long PM_PFN_MASK = (1L << 55) - 1;
    static final long PM_SOFT_DIRTY = 1L << 55;
    static final long PM_MMAP_EXCLUSIVE = 1L << 56;
    static final long PM_UFFD_WP = 1L << 57;
    static final long PM_FILE = 1L << 61;
    static final long PM_SWAP = 1L << 62;
    static final long PM_PRESENT = 1L << 63;

    private static final int ENTRIES = 64 * 1024; // 512 KiB per read: 256 MiB of address space

    private final FileChannel ch;
    private final ByteBuffer buf = ByteBuffer.allocateDirect(ENTRIES * 8).order(ByteOrder.LITTLE_ENDIAN);

    Pagemap(int pid) throws IOException {
        this.ch = FileChannel.open(Path.of("/proc", Integer.toString(pid), "pagemap"), StandardOpenOption.READ);
    }

    /** Which pages an entry selects. */
    interface EntryFilter {
        boolean test(long entry);
    }

    /** Appends the pages of {@code [start, end)} whose entry passes {@code filter}, merged, in order. */
    void select(long start, long end, EntryFilter filter, List<RemoteRange> out) throws IOException {
        long page = start / Ranges.PAGE;
        long last = end / Ranges.PAGE;
        while (page < last) {
            int n = (int) Math.min(ENTRIES, last - page);
            buf.clear().limit(n * 8);
            long pos = page * 8;
            while (buf.hasRemaining()) {
                int r = ch.read(buf, pos + buf.position());
                if (r <= 0) break; // past the end of the address space
            }
            int got = buf.position() / 8;
            buf.flip();
            selectEntries(page * Ranges.PAGE, buf, got, filter, out);
            if (got < n) break;
            page += n;
        }
    }

    /** The pure part: entries {@code 0..count} of {@code entries} describe pages from {@code base} on. */
    static void selectEntries(long base, ByteBuffer entries, int count, EntryFilter filter, List<RemoteRange> out) {
        long runStart = -1;
        for (int i = 0; i < count; i++) {
            long e = entries.getLong(i * 8);
            long addr = base + i * Ranges.PAGE;
            if (filter.test(e)) {
                if (runStart < 0) runStart = addr;
            } else if (runStart >= 0) {
                Ranges.append(out, runStart, addr);
                runStart = -1;
            }
        }
        if (runStart >= 0) Ranges.append(out, runStart, base + count * Ranges.PAGE);
    }

    @Override
    public void close() {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do: a read-only procfs file
        }
    }

    /**
     * The PFN of the shared zero page, as CRIU's kerndat finds it: map anonymous pages, read them (the kernel
     * maps the zero page), look up their pagemap entries. Two pages, which must share the PFN: a kernel without a
     * shared zero page (a PVM guest booted with {@code pvm_no_zero_page=1}) gives each read its own page, and that
     * page, freed again, may later hold another process's data. Needs {@code CAP_SYS_ADMIN} (PFNs read as 0
     * otherwise). -1 when there is none or it cannot be read: zero pages are then not recognised (they are dumped
     * as data, which is correct, only larger).
     */
    static long zeroPagePfn() {
        return ZeroPfn.PFN;
    }

    private static final class ZeroPfn {
        static final long PFN = probe();

        private static long probe() {
            Pointer p = Mman.INSTANCE.mmap(null, 2 * Ranges.PAGE, Mman.PROT_READ, Mman.MAP_PRIVATE | Mman.MAP_ANONYMOUS, -1, 0);
            if (Pointer.nativeValue(p) == -1L) return -1;
            try (FileChannel ch = FileChannel.open(Path.of("/proc/self/pagemap"), StandardOpenOption.READ)) {
                if (p.getByte(0) != 0 || p.getByte(Ranges.PAGE) != 0) return -1;
                ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
                ch.read(b, Pointer.nativeValue(p) / Ranges.PAGE * 8);
                long e0 = b.getLong(0), e1 = b.getLong(8);
                long pfn = e0 & PM_PFN_MASK;
                boolean shared = (e0 & PM_PRESENT) != 0 && (e1 & PM_PRESENT) != 0 && pfn == (e1 & PM_PFN_MASK);
                return shared && pfn != 0 ? pfn : -1;
            } catch (IOException e) {
                return -1;
            } finally {
                Mman.INSTANCE.munmap(p, 2 * Ranges.PAGE);
            }
        }
    }

}
