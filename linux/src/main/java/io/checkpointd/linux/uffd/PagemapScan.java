package io.checkpointd.linux.uffd;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.Ioctl;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code PAGEMAP_SCAN} ioctl on {@code /proc/PID/pagemap} ({@code <linux/fs.h>}, kernel 6.7+): reports
 * page ranges by category in one call per many pages, and with {@link #PM_SCAN_WP_MATCHING} re-write-protects
 * the pages it reports, atomically, which makes "written since the last scan" an epoch boundary.
 *
 * <p>Not thread-safe: one result vector is reused across calls.
 */
public final class PagemapScan implements AutoCloseable {
    // Page categories (struct page_region.categories, and the masks of struct pm_scan_arg)
    public static final long PAGE_IS_WPALLOWED = 1L << 0;
    public static final long PAGE_IS_WRITTEN = 1L << 1;
    public static final long PAGE_IS_FILE = 1L << 2;
    public static final long PAGE_IS_PRESENT = 1L << 3;
    public static final long PAGE_IS_SWAPPED = 1L << 4;
    public static final long PAGE_IS_PFNZERO = 1L << 5;
    public static final long PAGE_IS_HUGE = 1L << 6;
    public static final long PAGE_IS_SOFT_DIRTY = 1L << 7;

    /** {@code PM_SCAN_WP_MATCHING}: write-protect the matching pages after reporting them. */
    public static final long PM_SCAN_WP_MATCHING = 1L << 0;
    /** {@code PM_SCAN_CHECK_WPASYNC}: fail ({@code EPERM}) if part of the range is not registered for async WP. */
    public static final long PM_SCAN_CHECK_WPASYNC = 1L << 1;

    /** {@code sizeof(struct pm_scan_arg)}: twelve {@code __u64} (size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask, category_anyof_mask, return_mask). */
    public static final int PM_SCAN_ARG_SIZE = 96;
    /** {@code sizeof(struct page_region)}: {@code __u64 start, end, categories}. */
    public static final int PAGE_REGION_SIZE = 24;
    /** {@code #define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)} */
    public static final long PAGEMAP_SCAN = Ioctl._IOWR('f', 16, PM_SCAN_ARG_SIZE);

    private static final int VEC_LEN = 4096;

    /** One reported range {@code [start, end)} and its categories (masked by the scan's return mask). */
    public record PageRegion(long start, long end, long categories) {
        public long length() {
            return end - start;
        }

        @Override
        public String toString() {
            return String.format("%x-%x cat 0x%x", start, end, categories);
        }
    }

    private final int pid;
    private final FileDescriptor fd;
    private final Memory arg = new Memory(PM_SCAN_ARG_SIZE);
    private final Memory vec = new Memory((long) VEC_LEN * PAGE_REGION_SIZE);
    /** Entries of {@link #vec} that may be non-zero (written by an earlier call): only those are cleared. */
    private int vecDirty = VEC_LEN;

    private PagemapScan(int pid, FileDescriptor fd) {
        this.pid = pid;
        this.fd = fd;
    }

    /** Opens {@code /proc/PID/pagemap} (0 or the own pid for {@code /proc/self}). */
    public static PagemapScan open(int pid) throws SyscallException {
        String path = pid == 0 ? "/proc/self/pagemap" : "/proc/" + pid + "/pagemap";
        return new PagemapScan(pid, Syscalls.open(path, Syscalls.O_RDONLY));
    }

    public int pid() {
        return pid;
    }

    /**
     * The general scan of {@code [start, end)}; walks the whole range (several ioctls if the result vector
     * fills) and returns the matching regions in address order.
     */
    public List<PageRegion> scan(long start, long end, long flags, long categoryMask, long categoryAnyofMask,
            long categoryInverted, long returnMask) throws SyscallException {
        List<PageRegion> out = new ArrayList<>();
        scan(start, end, flags, categoryMask, categoryAnyofMask, categoryInverted, returnMask, out);
        return out;
    }

    /**
     * Like {@link #scan(long, long, long, long, long, long, long)} but appends to {@code out}, which keeps what
     * was reported even if the call then fails.
     *
     * <p>Why: when a call fails midway (e.g. {@code EPERM} from {@link #PM_SCAN_CHECK_WPASYNC} on reaching an
     * unregistered VMA), the kernel has already re-protected the pages it walked with
     * {@link #PM_SCAN_WP_MATCHING}, and copied their regions to the vector, but returns only {@code -1}: the
     * count is lost. The vector is zeroed before every call so those regions are recovered (up to the first
     * all-zero entry) instead of being lost as writes.
     */
    public void scan(long start, long end, long flags, long categoryMask, long categoryAnyofMask,
            long categoryInverted, long returnMask, List<PageRegion> out) throws SyscallException {
        long from = start;
        while (from < end) {
            arg.clear();
            arg.setLong(0, PM_SCAN_ARG_SIZE);
            arg.setLong(8, flags);
            arg.setLong(16, from);
            arg.setLong(24, end);
            arg.setLong(40, Pointer.nativeValue(vec));
            arg.setLong(48, VEC_LEN);
            arg.setLong(56, 0); // max_pages: no limit
            arg.setLong(64, categoryInverted);
            arg.setLong(72, categoryMask);
            arg.setLong(80, categoryAnyofMask);
            arg.setLong(88, returnMask);
            // Zero only what an earlier call may have written, not the whole vector on every call; the kernel writes
            // entries from index 0, so a failed call leaves zeros after its last.
            if (vecDirty > 0) vec.clear((long) vecDirty * PAGE_REGION_SIZE);
            int n = ScanDirect.ioctl(fd.fd(), PAGEMAP_SCAN, arg);
            vecDirty = n < 0 ? VEC_LEN : n;
            if (n < 0) {
                int errno = Native.getLastError();
                for (int i = 0; i < VEC_LEN; i++) {
                    PageRegion r = region(i);
                    if (r.end() == 0) break;
                    out.add(r);
                }
                throw new SyscallException("ioctl(PAGEMAP_SCAN)", errno, String.format("pid %d range 0x%x-0x%x", pid, from, end));
            }
            long reported = from;
            for (int i = 0; i < n; i++) {
                PageRegion r = region(i);
                out.add(r);
                reported = r.end();
            }
            // The kernel stops early only when the vector is full. Its walk_end is not to be trusted otherwise: after
            // an internal pass that filled its own buffer (512 regions) it keeps that pass's stop even when a later
            // pass reached the end (6.18), and a walk resumed from there reports the rest a second time
            if (n < VEC_LEN) break;
            long walkEnd = Math.max(arg.getLong(32), reported);
            if (walkEnd <= from) break; // no progress: avoid spinning (should not happen)
            from = walkEnd;
        }
    }

    private PageRegion region(int i) {
        long o = (long) i * PAGE_REGION_SIZE;
        return new PageRegion(vec.getLong(o), vec.getLong(o + 8), vec.getLong(o + 16));
    }

    /**
     * Pages of {@code [start, end)} written since they were last protected.
     *
     * @param reprotect also write-protect them again ({@link #PM_SCAN_WP_MATCHING}), starting a new epoch
     */
    public List<PageRegion> written(long start, long end, boolean reprotect) throws SyscallException {
        List<PageRegion> out = new ArrayList<>();
        written(start, end, reprotect, out);
        return out;
    }

    /**
     * {@link #written(long, long, boolean)} appending to {@code out}; fails with {@code EPERM} if part of the
     * range is not registered for async write-protect, with what was reported before that kept in {@code out}.
     */
    public void written(long start, long end, boolean reprotect, List<PageRegion> out) throws SyscallException {
        long flags = reprotect ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : PM_SCAN_CHECK_WPASYNC;
        scan(start, end, flags, PAGE_IS_WRITTEN, 0, 0, PAGE_IS_WRITTEN, out);
    }

    /**
     * Pages written in every range registered for async write-protect within {@code [start, end)}, in one walk on
     * the kernel's fast path ({@code category_mask == return_mask == PAGE_IS_WRITTEN}: one test per PTE). With
     * {@code reprotect} the kernel skips the VMAs that are not registered; without it, it cannot: it reports their
     * populated pages as written too, and the caller must keep only the ranges it registered. Unlike
     * {@link #written(long, long, boolean, List)} it cannot tell a range that lost its registration;
     * {@link #unregistered} does.
     */
    public void writtenWherever(long start, long end, boolean reprotect, List<PageRegion> out) throws SyscallException {
        scan(start, end, reprotect ? PM_SCAN_WP_MATCHING : 0, PAGE_IS_WRITTEN, 0, 0, PAGE_IS_WRITTEN, out);
    }

    /**
     * The mapped parts of {@code [start, end)} whose VMAs are not registered for async write-protect (holes between
     * VMAs are not reported), in one walk of their page tables.
     */
    public void unregistered(long start, long end, List<PageRegion> out) throws SyscallException {
        scan(start, end, 0, PAGE_IS_WPALLOWED, 0, PAGE_IS_WPALLOWED, PAGE_IS_WPALLOWED, out);
    }

    @Override
    public void close() {
        fd.close();
        arg.close();
        vec.close();
    }
}
