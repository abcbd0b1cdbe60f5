package io.checkpointd.protocol.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Flags {@code PE_LAZY} in an image's pagemaps exactly where CRIU 4.2's own dump does, so that a {@code --lazy-pages}
 * restore leaves those pages to the lazy-pages daemon. CRIU's {@code generate_iovs()} (criu/mem.c) marks a page lazy
 * when its VMA passes {@code vma_entry_can_be_lazy()} (criu/include/vma.h: {@code MAP_ANONYMOUS}, {@code MAP_PRIVATE},
 * neither {@code MAP_LOCKED} nor {@code MAP_HUGETLB}, not the vDSO, vvar or vsyscall area) and it is not the page of a
 * thread's stack pointer. That last rule is {@code is_stack()}'s intent, kept here page by page; CRIU 4.2's test
 * ({@code (sp ^ vaddr) & ~PAGE_MASK}) compares offsets within a page, so it matches no page at all unless a thread's
 * {@code sp} is page-aligned, and then every page (the whole dump goes eager). Keeping the few stack-pointer pages
 * eager is what CRIU means and never turns a failover eager by chance. The restore ignores the flag without
 * {@code --lazy-pages}.
 *
 * <p>CRIU never writes {@code PE_LAZY} on a {@code PE_PARENT} entry, and its lazy-pages daemon can serve one only with
 * checkpointd's CRIU patch (0002, {@code criu check --feature uffd-parent-pages}): without it the daemon reads the
 * parent's page and never copies it in, so the process waits for ever. Such entries are flagged only when the caller
 * says the CRIU serves them.
 */
public final class LazyFlags {
    // mmap flags as CRIU records them in vma_entry.flags (asm-generic/mman*.h, x86-64)
    static final long MAP_PRIVATE = 0x02, MAP_ANONYMOUS = 0x20, MAP_LOCKED = 0x2000, MAP_HUGETLB = 0x40000;
    /** Index of {@code sp} in {@code struct user_regs_struct} ({@link CoreImage#gpregs()}). */
    static final int SP = 19;

    /** Pages flagged lazy: all of them, and those of {@code PE_PARENT} entries among them. */
    public record Counts(long lazyPages, long lazyParentPages) {
        public Counts plus(Counts o) {
            return new Counts(lazyPages + o.lazyPages, lazyParentPages + o.lazyParentPages);
        }
    }

    private LazyFlags() {
    }

    /** CRIU's {@code vma_entry_can_be_lazy()}. */
    public static boolean canBeLazy(MmImage.Vma v) {
        long f = v.flags();
        return (f & MAP_ANONYMOUS) != 0 && (f & MAP_PRIVATE) != 0 && (f & MAP_LOCKED) == 0 && (f & MAP_HUGETLB) == 0
                && !is(v, MmImage.VMA_AREA_VDSO) && !is(v, MmImage.VMA_AREA_VVAR) && !is(v, MmImage.VMA_AREA_VSYSCALL);
    }

    private static boolean is(MmImage.Vma v, long status) {
        return (v.status() & status) == status; // vma_entry_is()
    }

    /**
     * Rewrites {@code pagemap-<pid>.img} of every process of {@code pstree.img} in {@code dir}: {@code PE_LAZY} set
     * where CRIU's dump sets it (on {@code PE_PARENT} entries only with {@code parentLazy}) and cleared elsewhere.
     */
    public static Counts apply(Path dir, boolean parentLazy) throws IOException {
        Counts total = new Counts(0, 0);
        PstreeImage pstree = PstreeImage.parse(Files.readAllBytes(dir.resolve("pstree.img")));
        for (int pid : pstree.pids()) {
            Path pm = dir.resolve("pagemap-" + pid + ".img");
            Path mm = dir.resolve("mm-" + pid + ".img");
            if (!Files.exists(pm) || !Files.exists(mm)) continue; // a zombie has neither
            List<MmImage.Vma> vmas = MmImage.parse(Files.readAllBytes(mm)).vmas();
            List<Long> sps = new ArrayList<>();
            for (int tid : pstree.threads(pid)) {
                sps.add(CoreImage.parse(Files.readAllBytes(dir.resolve("core-" + tid + ".img"))).gpregs()[SP]);
            }
            Pagemap in = Pagemap.parse(Files.readAllBytes(pm));
            long[] c = new long[2];
            List<Pagemap.Run> runs = flag(in.runs(), vmas, sps, parentLazy, c);
            Path tmp = dir.resolve(pm.getFileName() + ".lazy.tmp"); // a failure leaves the old pagemap whole
            Files.write(tmp, Pagemap.of(in.pagesId(), runs).encode());
            Files.move(tmp, pm, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            total = total.plus(new Counts(c[0], c[1]));
        }
        return total;
    }

    /**
     * The runs with {@code PE_LAZY} where CRIU's dump would put it, split where that changes; {@code counts[0]} and
     * {@code counts[1]} grow by the lazy pages and the lazy {@code PE_PARENT} pages.
     */
    static List<Pagemap.Run> flag(List<Pagemap.Run> runs, List<MmImage.Vma> vmas, List<Long> threadSps, boolean parentLazy, long[] counts) {
        List<MmImage.Vma> sorted = new ArrayList<>(vmas);
        sorted.sort((a, b) -> Long.compareUnsigned(a.start(), b.start()));
        long[] stackPages = threadSps.stream().mapToLong(sp -> sp & ~(long) (Pagemap.PAGE_SIZE - 1)).sorted().distinct().toArray();
        List<Pagemap.Run> out = new ArrayList<>(runs.size());
        for (Pagemap.Run r : runs) {
            boolean parent = (r.flags() & Pagemap.PE_PARENT) != 0;
            boolean eligible = (r.flags() & Pagemap.PE_PRESENT) != 0 || (parent && parentLazy);
            int plain = r.flags() & ~Pagemap.PE_LAZY;
            long at = r.vaddr(), end = r.vaddr() + r.nrPages() * Pagemap.PAGE_SIZE;
            int prevFlags = -1;
            long prevStart = at;
            while (at < end) {
                long stop = end;
                boolean lazy = false;
                if (eligible) {
                    int v = vmaAt(sorted, at);
                    if (v >= 0) {
                        stop = Math.min(stop, sorted.get(v).end());
                        lazy = canBeLazy(sorted.get(v));
                    } else {
                        int next = -v - 1;
                        if (next < sorted.size()) stop = Math.min(stop, sorted.get(next).start());
                    }
                    int s = Arrays.binarySearch(stackPages, at);
                    if (s >= 0) {
                        stop = Math.min(stop, at + Pagemap.PAGE_SIZE);
                        lazy = false;
                    } else if (-s - 1 < stackPages.length) {
                        stop = Math.min(stop, stackPages[-s - 1]);
                    }
                }
                int flags = lazy ? plain | Pagemap.PE_LAZY : plain;
                if (lazy) {
                    counts[0] += (stop - at) / Pagemap.PAGE_SIZE;
                    if (parent) counts[1] += (stop - at) / Pagemap.PAGE_SIZE;
                }
                if (flags != prevFlags && prevFlags != -1) {
                    add(out, prevStart, (at - prevStart) / Pagemap.PAGE_SIZE, prevFlags);
                    prevStart = at;
                }
                prevFlags = flags;
                at = stop;
            }
            add(out, prevStart, (end - prevStart) / Pagemap.PAGE_SIZE, prevFlags);
        }
        return out;
    }

    /**
     * The longest lazy run written, in pages (64 MiB). CRIU 4.2's lazy-pages daemon keeps the length of its longest
     * range in an {@code int} ({@code collect_iovs}, criu/uffd.c) and allocates a buffer of that size: a lazy entry
     * of 2 GiB or more in one VMA (a large heap whose pages are all present) makes the allocation fail, and the
     * daemon exits 1 without a word, failing the restore.
     */
    static final long MAX_LAZY_RUN_PAGES = 16_384;

    private static void add(List<Pagemap.Run> out, long start, long pages, int flags) {
        long max = (flags & Pagemap.PE_LAZY) != 0 ? MAX_LAZY_RUN_PAGES : Long.MAX_VALUE;
        for (long done = 0; done < pages; done += max) {
            out.add(new Pagemap.Run(start + done * Pagemap.PAGE_SIZE, Math.min(max, pages - done), flags, -1));
        }
    }

    /** The index of the VMA holding {@code addr}, or {@code -(index of the next one) - 1}. */
    private static int vmaAt(List<MmImage.Vma> sorted, long addr) {
        int lo = 0, hi = sorted.size() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            MmImage.Vma v = sorted.get(mid);
            if (Long.compareUnsigned(v.end(), addr) <= 0) lo = mid + 1;
            else if (Long.compareUnsigned(v.start(), addr) > 0) hi = mid - 1;
            else return mid;
        }
        return -lo - 1;
    }
}
