package io.checkpointd.linux.track;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

/**
 * {@code scan}: the tracker that needs nothing from the kernel. It keeps an XXH64 hash of every present page
 * of the tracked ranges; each {@link #collect} reads all those pages ({@code process_vm_readv} in 8 MiB
 * batches, {@code /proc/PID/mem} for what that cannot read, e.g. a range made {@code PROT_NONE}) and reports
 * those whose hash changed. Pages present for the first time count as written; pages no longer present leave
 * the table (see {@link PresentPages} for why they need no report). Cost grows with resident memory, not with
 * the dirty set: the fallback of last resort. A 64-bit hash collision (2^-64 per changed page) would miss a write.
 */
final class ScanTracker implements DirtyTracker {
    private static final int STAGING = 8 << 20;
    private static final long SEED = 0x636b7074L; // "ckpt"

    private final int pid;
    private final XXHash64 xx = XXHashFactory.fastestInstance().hash64();
    private final ByteBuffer staging = ByteBuffer.allocateDirect(STAGING);
    private final TreeMap<Long, Long> tracked = new TreeMap<>();
    private PageHashes prev = new PageHashes(1024), cur = new PageHashes(1024);
    private FileChannel mem;
    private long scannedBytes, changedBytes, memFallbacks;

    private ScanTracker(int pid) {
        this.pid = pid;
    }

    static ScanTracker open(int pid) throws IOException {
        if (!ProcFs.exists(pid)) throw new IOException("no process " + pid);
        return new ScanTracker(pid);
    }

    @Override
    public String name() {
        return "scan";
    }

    @Override
    public void arm(List<Vma> maps) throws IOException {
        tracked.clear();
        prev.clear();
        for (long[] r : Ranges.merged(maps, Ranges::trackable)) tracked.put(r[0], r[1]);
        hashAll(maps, null);
    }

    @Override
    public List<RemoteRange> collect(List<Vma> maps) throws IOException {
        Ranges.dropUnmapped(tracked, maps);
        for (long[] u : Ranges.uncovered(tracked, maps)) tracked.put(u[0], u[1]); // new: all their pages are new
        Ranges.coalesce(tracked);
        List<RemoteRange> out = new ArrayList<>();
        hashAll(maps, out);
        changedBytes = Ranges.total(out);
        return out; // built in address order, merged
    }

    /**
     * The dump's bytes become what the next collect compares with: a page CRIU read while something changed it, and
     * changed back before that collect, then differs from them and is reported. Tracked pages the dump lacks count
     * as new.
     */
    @Override
    public void dumped(DumpedPages pages) throws IOException {
        prev.clear();
        pages.forEach((a, page) -> {
            Map.Entry<Long, Long> t = tracked.floorEntry(a);
            if (t != null && a < t.getValue()) prev.put(a, hash(page, page.position()));
        });
    }

    private long hash(ByteBuffer buf, int off) {
        long h = xx.hash(buf, off, (int) Ranges.PAGE, SEED);
        return h == 0 ? 1 : h; // 0 is "absent"
    }

    /** Hashes every present page of the tracked ranges into {@code cur}; reports pages new or changed vs {@code prev}. */
    private void hashAll(List<Vma> maps, List<RemoteRange> changed) throws IOException {
        List<Vma> inTracked = new ArrayList<>();
        for (Map.Entry<Long, Long> t : tracked.entrySet()) {
            inTracked.add(new Vma(t.getKey(), t.getValue(), "rw-p", 0, "00:00", 0, ""));
        }
        List<RemoteRange> present = PresentPages.of(pid, inTracked);
        cur.clear();
        long scanned = 0;
        List<RemoteRange> batch = new ArrayList<>();
        long batchBytes = 0;
        for (RemoteRange r : present) {
            long a = r.address(), end = r.address() + r.length();
            while (a < end) {
                long n = Math.min(end - a, STAGING - batchBytes);
                batch.add(new RemoteRange(a, n));
                batchBytes += n;
                a += n;
                if (batchBytes == STAGING) {
                    scanned += hashBatch(batch, changed);
                    batch.clear();
                    batchBytes = 0;
                }
            }
        }
        if (!batch.isEmpty()) scanned += hashBatch(batch, changed);
        scannedBytes = scanned;
        PageHashes t = prev;
        prev = cur;
        cur = t;
    }

    private long hashBatch(List<RemoteRange> batch, List<RemoteRange> changed) throws IOException {
        staging.clear();
        try {
            ProcessMemory.read(pid, batch, staging);
        } catch (SyscallException e) {
            readViaProcMem(batch);
        }
        int off = 0;
        for (RemoteRange r : batch) {
            for (long a = r.address(); a < r.address() + r.length(); a += Ranges.PAGE, off += (int) Ranges.PAGE) {
                long h = hash(staging, off);
                if (changed != null && prev.get(a, 0) != h) Ranges.append(changed, a, a + Ranges.PAGE);
                cur.put(a, h);
            }
        }
        return off;
    }

    /** {@code /proc/PID/mem} reads what {@code process_vm_readv} cannot (it ignores protections, as ptrace does). */
    private void readViaProcMem(List<RemoteRange> batch) throws IOException {
        memFallbacks++;
        if (mem == null) mem = FileChannel.open(ProcFs.dir(pid).resolve("mem"), StandardOpenOption.READ);
        staging.clear();
        for (RemoteRange r : batch) {
            int from = staging.position();
            staging.limit(from + (int) r.length());
            while (staging.hasRemaining()) {
                long at = r.address() + (staging.position() - from);
                if (mem.read(staging, at) <= 0) throw new IOException(String.format("pid %d: /proc/PID/mem read at 0x%x failed", pid, at));
            }
        }
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("scanned-bytes", scannedBytes);
        m.put("written-bytes", changedBytes);
        m.put("hashed-pages", (long) prev.size());
        m.put("proc-mem-fallbacks", memFallbacks);
        return m;
    }

    @Override
    public void close() {
        if (mem != null) {
            try {
                mem.close();
            } catch (IOException e) {
                // read-only procfs file
            }
        }
    }
}
