package io.checkpointd.linux.track;

import io.checkpointd.linux.Errno;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.uffd.PagemapScan;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * The pages CRIU would put in a process's pagemap image: in private VMAs other than the kernel's special
 * mappings ({@code [vdso] [vvar] [vvar_vclock] [vsyscall] [uprobes]}), the pages that are present or swapped,
 * except the shared zero page and unmodified page-cache pages of private file mappings. So: anonymous pages,
 * including the copied-on-write pages of private file mappings ({@code .data} of libraries).
 *
 * <p>Same rule as CRIU 4.2's {@code pmc_fill()} ({@code criu/pagemap-cache.c}): one {@code PAGEMAP_SCAN} per VMA
 * with {@code category_inverted = category_mask = PAGE_IS_FILE|PAGE_IS_PFNZERO} (only {@code PAGE_IS_PFNZERO} in
 * anonymous VMAs, which cannot hold page-cache pages: asking for {@code PAGE_IS_FILE} costs a {@code struct page}
 * lookup per present page) and {@code category_anyof_mask = PAGE_IS_PRESENT|PAGE_IS_SWAPPED}; where the kernel lacks {@code PAGEMAP_SCAN}, the
 * {@code /proc/PID/pagemap} path of {@code should_dump_page()} ({@code criu/mem.c}): present or swapped, not
 * {@code PM_FILE}, PFN not the zero page's.
 *
 * <p>A page zeroed by {@code madvise(MADV_DONTNEED)} is not present, so it drops out here although no dirty
 * tracker reports it: the engine regenerates each epoch's pagemap from this list. PROT_NONE VMAs are included
 * (CRIU dumps them too); {@code process_vm_readv} cannot read them, {@code /proc/PID/mem} can.
 */
public final class PresentPages {
    /** Set once {@code PAGEMAP_SCAN} turned out to be missing (ENOTTY/EINVAL): use /proc/PID/pagemap from then on. */
    private static volatile boolean noScan;

    private PresentPages() {
    }

    /** The dumpable pages of {@code pid}, page-aligned ranges, sorted and merged. */
    public static List<RemoteRange> of(int pid, List<Vma> maps) throws IOException {
        return of(pid, maps, v -> true);
    }

    /**
     * Same, restricted to the VMAs {@code which} accepts (among the private non-special ones). Lets the engine
     * rescan only what can change between structural dumps, skipping the costly {@code struct page} lookups that
     * tell page-cache pages of file mappings from copied-on-write ones.
     */
    public static List<RemoteRange> of(int pid, List<Vma> maps, Predicate<Vma> which) throws IOException {
        return of(null, pid, maps, which);
    }

    /** Same, with {@code open} (of {@code pid}'s pagemap, or null: opened for this call). */
    private static List<RemoteRange> of(PagemapScan open, int pid, List<Vma> maps, Predicate<Vma> which) throws IOException {
        List<Vma> chosen = new ArrayList<>();
        for (Vma v : maps) if (which.test(v)) chosen.add(v);
        if (!noScan) {
            try {
                if (open != null) return of(open, chosen);
                try (PagemapScan scan = PagemapScan.open(pid)) {
                    return of(scan, chosen);
                }
            } catch (SyscallException e) {
                if (!e.call().startsWith("ioctl") || (e.errno() != Errno.ENOTTY && e.errno() != Errno.EINVAL)) throw e;
                noScan = true;
            }
        }
        try (Pagemap pm = new Pagemap(pid)) {
            return of(pm, chosen);
        }
    }

    /**
     * The dumpable pages of {@code pid} inside {@code within} (sorted, disjoint ranges), among its private
     * non-special VMAs: what the engine rescans when a tracker followed the rest ({@link DirtyTracker#followed()}).
     */
    public static List<RemoteRange> within(int pid, List<Vma> maps, List<RemoteRange> within) throws IOException {
        return within(null, pid, maps, within);
    }

    /**
     * Same, on {@code open}, {@code pid}'s pagemap kept open by the caller (null: opened for this call), which saves
     * an open and a close per call; not for concurrent use ({@link PagemapScan} reuses one result vector).
     */
    public static List<RemoteRange> within(PagemapScan open, int pid, List<Vma> maps, List<RemoteRange> within) throws IOException {
        List<Vma> chosen = new ArrayList<>();
        int j = 0;
        for (Vma v : maps) {
            if (!v.isPrivate() || Ranges.isSpecial(v)) continue;
            while (j < within.size() && within.get(j).address() + within.get(j).length() <= v.start()) j++;
            for (int k = j; k < within.size() && within.get(k).address() < v.end(); k++) {
                RemoteRange w = within.get(k);
                long s = Math.max(v.start(), w.address()), e = Math.min(v.end(), w.address() + w.length());
                if (s < e) chosen.add(new Vma(s, e, v.perms(), v.offset() + (s - v.start()), v.dev(), v.inode(), v.path()));
            }
        }
        return chosen.isEmpty() ? new ArrayList<>() : of(open, pid, chosen, x -> true);
    }

    /** With {@code PAGEMAP_SCAN} on an open pagemap (reused by trackers). */
    static List<RemoteRange> of(PagemapScan scan, List<Vma> maps) throws SyscallException {
        List<RemoteRange> out = new ArrayList<>();
        List<PagemapScan.PageRegion> regions = new ArrayList<>();
        for (Vma v : maps) {
            if (!v.isPrivate() || Ranges.isSpecial(v)) continue;
            regions.clear();
            scan(scan, v.start(), v.end(), v.inode() != 0, regions);
            for (PagemapScan.PageRegion r : regions) Ranges.append(out, r.start(), r.end());
        }
        return out;
    }

    /**
     * The dumpable pages of {@code [start, end)}, one VMA or part of one. {@code PAGE_IS_FILE} is asked for only
     * in file-backed VMAs: it makes the kernel look up every present page's {@code struct page} (several times the
     * cost of the walk), and a private anonymous VMA never holds page-cache pages.
     */
    static void scan(PagemapScan scan, long start, long end, boolean fileBacked, List<PagemapScan.PageRegion> out)
            throws SyscallException {
        long exclude = fileBacked ? PagemapScan.PAGE_IS_FILE | PagemapScan.PAGE_IS_PFNZERO : PagemapScan.PAGE_IS_PFNZERO;
        long any = PagemapScan.PAGE_IS_PRESENT | PagemapScan.PAGE_IS_SWAPPED;
        scan.scan(start, end, 0, exclude, any, exclude, any, out);
    }

    /** With {@code /proc/PID/pagemap} entries. */
    static List<RemoteRange> of(Pagemap pm, List<Vma> maps) throws IOException {
        List<RemoteRange> out = new ArrayList<>();
        long zeroPfn = Pagemap.zeroPagePfn();
        for (Vma v : maps) {
            if (!v.isPrivate() || Ranges.isSpecial(v)) continue;
            pm.select(v.start(), v.end(), e -> dumpable(e, zeroPfn), out);
        }
        return out;
    }

    /** CRIU's {@code should_dump_page()} on one pagemap entry. */
    static boolean dumpable(long e, long zeroPfn) {
        if ((e & (Pagemap.PM_PRESENT | Pagemap.PM_SWAP)) == 0) return false;
        if ((e & Pagemap.PM_FILE) != 0) return false;
        return (e & Pagemap.PM_PRESENT) == 0 || zeroPfn < 0 || (e & Pagemap.PM_PFN_MASK) != zeroPfn;
    }

    /** Forces the {@code /proc/PID/pagemap} path (tests). */
    static List<RemoteRange> viaPagemapFile(int pid, List<Vma> maps) throws IOException {
        try (Pagemap pm = new Pagemap(pid)) {
            return of(pm, maps);
        }
    }
}
