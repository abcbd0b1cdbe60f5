package io.checkpointd.linux.track;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code soft-dirty}: the kernel's soft-dirty bits ({@code CONFIG_MEM_SOFT_DIRTY}, on in most distribution
 * kernels), as CRIU's {@code --track-mem} uses them. Writing {@code "4"} to {@code /proc/PID/clear_refs} clears
 * the bit of every page of the process (and write-protects the PTEs); a later write sets bit 55 of the page's
 * {@code /proc/PID/pagemap} entry. {@link #collect} reads the entries of the tracked ranges and clears again,
 * all while the process is stopped, so nothing written in between is lost.
 *
 * <p>Only present or swapped soft-dirty pages are reported: a new VMA is soft-dirty as a whole
 * ({@code VM_SOFTDIRTY}) including pages never touched, which need no copy. New ranges are reported whole
 * (their present pages) like the other trackers do. {@code MADV_DONTNEED}: see {@link PresentPages}.
 */
final class SoftDirtyTracker implements DirtyTracker {
    private final int pid;
    private final Pagemap pagemap;
    private final TreeMap<Long, Long> tracked = new TreeMap<>();
    private long wholeBytes, writtenBytes;

    private SoftDirtyTracker(int pid, Pagemap pagemap) {
        this.pid = pid;
        this.pagemap = pagemap;
    }

    static SoftDirtyTracker open(int pid) throws IOException {
        return new SoftDirtyTracker(pid, new Pagemap(pid));
    }

    @Override
    public String name() {
        return "soft-dirty";
    }

    @Override
    public void arm(List<Vma> maps) throws IOException {
        tracked.clear();
        for (long[] r : Ranges.merged(maps, Ranges::trackable)) tracked.put(r[0], r[1]);
        clearRefs();
    }

    @Override
    public List<RemoteRange> collect(List<Vma> maps) throws IOException {
        Ranges.dropUnmapped(tracked, maps);
        List<RemoteRange> out = new ArrayList<>();
        for (Map.Entry<Long, Long> r : tracked.entrySet()) pagemap.select(r.getKey(), r.getValue(), SoftDirtyTracker::written, out);
        writtenBytes = Ranges.total(out);
        long zeroPfn = Pagemap.zeroPagePfn();
        List<RemoteRange> whole = new ArrayList<>();
        for (long[] u : Ranges.uncovered(tracked, maps)) {
            pagemap.select(u[0], u[1], e -> PresentPages.dumpable(e, zeroPfn), whole);
            tracked.put(u[0], u[1]);
        }
        wholeBytes = Ranges.total(whole);
        out.addAll(whole);
        Ranges.coalesce(tracked);
        clearRefs();
        return Ranges.sortMerge(out);
    }

    /** A page to copy: soft-dirty and present or swapped. */
    static boolean written(long entry) {
        return (entry & Pagemap.PM_SOFT_DIRTY) != 0 && (entry & (Pagemap.PM_PRESENT | Pagemap.PM_SWAP)) != 0;
    }

    private void clearRefs() throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(ProcFs.dir(pid).resolve("clear_refs").toFile(), "rw")) {
            f.write("4".getBytes(StandardCharsets.US_ASCII));
        }
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("written-bytes", writtenBytes);
        m.put("whole-bytes", wholeBytes);
        return m;
    }

    @Override
    public void close() {
        pagemap.close();
    }
}
