package io.checkpointd.linux.track;

import io.checkpointd.linux.Errno;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.linux.uffd.UffdTracker;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code uffd-wp}: userfaultfd write-protect in async mode plus {@code PAGEMAP_SCAN} (kernel 6.7+), through
 * {@link UffdTracker} (the userfaultfd is injected into the target, taken with {@code pidfd_getfd} and closed
 * there again). Each {@link #collect} reports the written pages of the tracked ranges with one {@code PAGEMAP_SCAN}
 * per cluster of them (ranges less than 64 MiB apart), on the kernel's fast path, clipped to the tracked ranges,
 * with {@code rearm} re-protects them ({@link #reprotect}), then registers what is new.
 *
 * <ul>
 *   <li>A tracked range that no longer is wholly registered (munmap + mmap over it, {@code mremap} away and back)
 *       shows in a second walk of its cluster, which reports the mapped parts lacking {@code PAGE_IS_WPALLOWED}: its
 *       registered pages' writes are still taken, and the range is registered again and reported whole (its parts
 *       mapped read-only since are reported whole too, and registered if anonymous and readable:
 *       {@code Ranges.trackable}).</li>
 *   <li>A range the kernel refuses to register (e.g. {@code EPERM}/{@code EINVAL} for a mapping kind uffd does not
 *       support) is reported whole (its present pages) every epoch and counted in {@code unregistered-ranges}.</li>
 *   <li>Transparent huge pages: a write to a write-protected THP splits it (async mode), so the report is per
 *       4 KiB page; a THP reported before it was split comes as one 2 MiB range. Either way ranges are page
 *       aligned, which is all the copier needs.</li>
 *   <li>{@code madvise(MADV_DONTNEED)} zeroes pages without a write: the userfaultfd also carries
 *       {@code UFFD_EVENT_REMOVE}, so {@link #followed()} lists, with the tracked ranges, what was removed in them,
 *       and the caller rescans only that (not every range) to know the present pages. An unmapped range leaves
 *       the maps (and so the followed ranges); one mapped again over it is not registered and shows in that second
 *       walk, so {@code UFFD_EVENT_UNMAP} is not needed.</li>
 * </ul>
 */
final class UffdWpTracker implements DirtyTracker {
    private static final Logger LOG = LoggerFactory.getLogger(UffdWpTracker.class);
    /** Tracked ranges closer than this are walked in one {@code PAGEMAP_SCAN} ({@link #clusters}). */
    private static final long CLUSTER_GAP = 64L << 20;
    /**
     * Written pages of a tracked range closer than this are protected again in one span ({@link #reprotect}): the
     * kernel rewrites every present PTE of a span, so a wide one costs more than the TLB flush it saves.
     */
    private static final long SPAN_GAP = 64L << 10;

    private final int pid;
    private final UffdTracker uffd;
    private final PagemapScan scan;
    /** Disjoint registered ranges, start -> end, coalesced. */
    private final TreeMap<Long, Long> tracked = new TreeMap<>();
    /** Ranges whose registration failed, start -> end (reported whole while they exist). */
    private final TreeMap<Long, Long> unregistered = new TreeMap<>();
    private final Set<Long> warned = new HashSet<>();
    private final List<PagemapScan.PageRegion> regions = new ArrayList<>();
    private final List<PagemapScan.PageRegion> unregisteredNow = new ArrayList<>();
    private long wholeBytes, writtenBytes, lostRanges, removedBytes, precollectedBytes, walkClusters;
    private Followed followed;

    private UffdWpTracker(int pid, UffdTracker uffd, PagemapScan scan) {
        this.pid = pid;
        this.uffd = uffd;
        this.scan = scan;
    }

    /** Injects the userfaultfd: the process must be running (not frozen, not stopped by a StoppedProcess). */
    static UffdWpTracker open(int pid) throws IOException {
        UffdTracker u = UffdTracker.attach(pid, true);
        try {
            return new UffdWpTracker(pid, u, PagemapScan.open(pid));
        } catch (IOException | RuntimeException e) {
            u.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "uffd-wp";
    }

    @Override
    public void arm(List<Vma> maps) throws IOException {
        tracked.clear();
        unregistered.clear();
        for (long[] r : Ranges.merged(maps, Ranges::trackable)) register(r[0], r[1]);
        Ranges.coalesce(tracked);
        uffd.takeRemoved(); // removals before the arming show in whatever reads the memory after it (the dump)
        followed = null;
    }

    @Override
    public List<RemoteRange> collect(List<Vma> maps) throws IOException {
        return collect(maps, true);
    }

    /** Without {@code rearm}: the written pages are only reported (no {@code PM_SCAN_WP_MATCHING}, no TLB flush). */
    @Override
    public List<RemoteRange> collect(List<Vma> maps, boolean rearm) throws IOException {
        return collect(() -> maps, rearm);
    }

    /** The walks first (they need only the ranges tracked so far); the maps when they are done. */
    @Override
    public List<RemoteRange> collect(MapsSource mapsSource, boolean rearm) throws IOException {
        List<RemoteRange> out = new ArrayList<>();
        regions.clear();
        Set<Long> lost = new TreeSet<>();
        // Two walks per cluster instead of a call per range: the written pages (without rearm the kernel reports
        // unregistered VMAs' populated pages too, hence the clip below), then the mapped parts not registered. A
        // tracked range among those was replaced (munmap + mmap, mremap away and back): it is tracked again, whole.
        for (long[] c : clusters()) {
            // report only: the re-protect comes after, in spans (see reprotect)
            scan.writtenWherever(c[0], c[1], false, regions);
            unregisteredNow.clear();
            scan.unregistered(c[0], c[1], unregisteredNow);
            for (PagemapScan.PageRegion u : unregisteredNow) {
                Map.Entry<Long, Long> before = tracked.floorEntry(u.start());
                if (before != null && before.getValue() > u.start()) lost.add(before.getKey());
                lost.addAll(tracked.subMap(u.start(), false, u.end(), false).keySet());
            }
        }
        lostRanges += lost.size();
        List<long[]> replaced = new ArrayList<>(lost.size());
        for (Long l : lost) replaced.add(new long[] {l, tracked.remove(l)});
        // a range unmapped since was a hole to the walks: it reported nothing there
        List<Vma> maps = mapsSource.get();
        Ranges.dropUnmapped(tracked, maps);
        // with the process stopped: every removal up to now (a thread whose madvise waits for its event to be read
        // is not stopped yet, so there is none in flight)
        List<RemoteRange> removed = uffd.takeRemoved();
        List<RemoteRange> followedRanges = new ArrayList<>(tracked.size());
        for (Map.Entry<Long, Long> r : tracked.entrySet()) followedRanges.add(new RemoteRange(r.getKey(), r.getValue() - r.getKey()));
        long rb = 0;
        for (RemoteRange r : removed) rb += r.length();
        removedBytes = rb;
        followed = new Followed(followedRanges, removed);
        long written = 0;
        List<long[]> spans = rearm ? new ArrayList<>() : null;
        for (PagemapScan.PageRegion w : regions) written += addClipped(w.start(), w.end(), out, spans);
        writtenBytes = written;
        if (rearm) reprotect(spans);

        // New, grown, split, replaced or never-registrable ranges: their present pages whole, then register.
        long whole = 0;
        TreeMap<Long, Long> stillUnregistered = new TreeMap<>();
        for (long[] u : Ranges.uncovered(tracked, maps)) {
            regions.clear();
            PresentPages.scan(scan, u[0], u[1], fileBacked(maps, u[0], u[1]), regions);
            for (PagemapScan.PageRegion p : regions) {
                out.add(new RemoteRange(p.start(), p.length()));
                whole += p.length();
            }
            if (!register(u[0], u[1])) stillUnregistered.put(u[0], u[1]);
        }
        // a replaced range's parts now mapped read-only and not trackable (PROT_NONE, a file; mmap, write, mprotect
        // before the stop) hold pages no walk saw written and no trackable range covers: their present pages whole too
        for (long[] r : replaced) {
            for (Vma v : maps) {
                if (Ranges.trackable(v) || !v.isPrivate() || Ranges.isSpecial(v) || v.end() <= r[0] || v.start() >= r[1]) continue;
                regions.clear();
                PresentPages.scan(scan, Math.max(v.start(), r[0]), Math.min(v.end(), r[1]), v.inode() != 0, regions);
                for (PagemapScan.PageRegion p : regions) {
                    out.add(new RemoteRange(p.start(), p.length()));
                    whole += p.length();
                }
            }
        }
        unregistered.clear();
        unregistered.putAll(stillUnregistered);
        wholeBytes = whole;
        Ranges.coalesce(tracked);
        return Ranges.sortMerge(out);
    }

    @Override
    public List<RemoteRange> precollect() throws IOException {
        regions.clear();
        for (long[] c : clusters()) {
            try {
                scan.writtenWherever(c[0], c[1], true, regions);
            } catch (SyscallException e) {
                // the process runs: ENOMEM/EINVAL if its memory changed under the walk; what was reported up to
                // there was re-protected and is kept in regions, and the collect at the stop sorts the rest out
                if (e.errno() != Errno.EINVAL && e.errno() != Errno.ENOMEM) throw e;
            }
        }
        List<RemoteRange> out = new ArrayList<>(regions.size());
        long pre = 0;
        for (PagemapScan.PageRegion w : regions) {
            out.add(new RemoteRange(w.start(), w.length()));
            pre += w.length();
        }
        precollectedBytes = pre;
        return Ranges.sortMerge(out);
    }

    /**
     * The tracked ranges in clusters, {start, end} each: consecutive ranges less than {@link #CLUSTER_GAP} apart
     * share one. A walk over a gap between tracked ranges costs nothing where it is a hole, but walks the page
     * tables of whatever untracked mapping lies there (a large read-only file mapping, say); a wide gap is not
     * walked.
     */
    private List<long[]> clusters() {
        List<long[]> out = new ArrayList<>();
        long[] c = null;
        for (Map.Entry<Long, Long> r : tracked.entrySet()) {
            if (c != null && r.getKey() - c[1] < CLUSTER_GAP) {
                c[1] = r.getValue();
            } else {
                c = new long[] {r.getKey(), r.getValue()};
                out.add(c);
            }
        }
        walkClusters = out.size();
        return out;
    }

    /**
     * Appends the parts of {@code [start, end)} inside tracked ranges to {@code out}; returns their bytes. A
     * replaced range was dropped from the tracked ones before: it is reported whole instead.
     */
    private long addClipped(long start, long end, List<RemoteRange> out, List<long[]> spans) {
        Map.Entry<Long, Long> t = tracked.floorEntry(start);
        if (t == null || t.getValue() <= start) t = tracked.higherEntry(start);
        long n = 0;
        for (; t != null && t.getKey() < end; t = tracked.higherEntry(t.getKey())) {
            long s = Math.max(start, t.getKey()), e = Math.min(end, t.getValue());
            if (s < e) {
                out.add(new RemoteRange(s, e - s));
                n += e - s;
                if (spans != null) {
                    long[] last = spans.isEmpty() ? null : spans.get(spans.size() - 1);
                    if (last != null && last[2] == t.getKey() && s >= last[0] && s - last[1] < SPAN_GAP) {
                        last[1] = Math.max(last[1], e);
                    } else { // regions come in address order; one that did not would start a span of its own
                        spans.add(new long[] {s, e, t.getKey()});
                    }
                }
            }
        }
        return n;
    }

    /**
     * Write-protects the written pages again, the process stopped: one {@code UFFDIO_WRITEPROTECT} per span of
     * written pages less than {@link #SPAN_GAP} apart within a tracked range, the pages between already protected.
     * The kernel then flushes the TLB once per span, batched, where {@code PM_SCAN_WP_MATCHING} flushes the
     * written pages of each page table (2 MiB) as they are found: IPIs, hypercalls on a paravirtualized guest.
     * A span the kernel refuses falls back to the walk that re-protects only registered written pages:
     * {@code ENOENT} (a VMA in it lost its registration after the walks) and {@code EAGAIN} (a removal event not
     * yet read), which the stop rules out.
     */
    private void reprotect(List<long[]> spans) throws SyscallException {
        List<PagemapScan.PageRegion> again = null;
        for (long[] s : spans) {
            try {
                uffd.protect(s[0], s[1]);
            } catch (SyscallException e) {
                if (e.errno() != Errno.ENOENT && e.errno() != Errno.EAGAIN) throw e;
                if (again == null) again = new ArrayList<>();
                scan.writtenWherever(s[0], s[1], true, again);
            }
        }
    }

    @Override
    public Followed followed() {
        return followed;
    }

    /** Whether a VMA overlapping {@code [start, end)} is file-backed (then PAGE_IS_FILE must be asked for). */
    private static boolean fileBacked(List<Vma> maps, long start, long end) {
        for (Vma v : maps) if (v.start() < end && v.end() > start && v.inode() != 0) return true;
        return false;
    }

    /** Registers and write-protects {@code [start, end)}; false (logged once per address) if the kernel refuses. */
    private boolean register(long start, long end) {
        try {
            uffd.track(start, end);
            tracked.put(start, end);
            return true;
        } catch (SyscallException e) {
            unregistered.put(start, end);
            if (warned.add(start)) {
                LOG.warn("pid {}: cannot write-protect {}-{} ({}); reporting its present pages whole every epoch", pid,
                        Long.toHexString(start), Long.toHexString(end), e.getMessage());
            }
            return false;
        }
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        long t = 0;
        for (Map.Entry<Long, Long> e : tracked.entrySet()) t += e.getValue() - e.getKey();
        m.put("tracked-bytes", t);
        m.put("written-bytes", writtenBytes);
        m.put("precollected-bytes", precollectedBytes);
        m.put("whole-bytes", wholeBytes);
        m.put("unregistered-ranges", (long) unregistered.size());
        m.put("replaced-ranges", lostRanges);
        m.put("walk-clusters", walkClusters);
        m.put("removed-bytes", removedBytes);
        long[] ev = uffd.removalCounts();
        if (ev != null) {
            m.put("remove-events", ev[0]);
            m.put("other-events", ev[1]);
        }
        return m;
    }

    /** The registered ranges, start -> end (tests, status). */
    Map<Long, Long> tracked() {
        return new TreeMap<>(tracked);
    }

    @Override
    public void close() {
        scan.close();
        uffd.close();
    }
}
