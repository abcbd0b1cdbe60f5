package io.checkpointd.primary.engine.memory;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.linux.track.PresentPages;
import io.checkpointd.linux.track.Ranges;
import io.checkpointd.linux.uffd.PagemapScan;
import io.checkpointd.primary.engine.EngineSettings;
import io.checkpointd.primary.engine.state.Reference;
import io.checkpointd.primary.engine.state.Structure;
import io.checkpointd.primary.engine.status.EngineStats;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The memory stage of an incremental epoch: the pre-copy while the process runs ({@link #preCopy}), then at the stop
 * the collect, presence and copy ({@link #capture}, on the pause's memory thread), and the epoch's pages gathered
 * from both ({@link #pages}). Keeps what the tracker reported for attempts that were given up, so the next stop
 * counts it again; the buffers are reused from epoch to epoch.
 */
public final class MemoryStage implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MemoryStage.class);
    private static final int PAGE = Pagemap.PAGE_SIZE;
    /** Gaps shorter than this between ranges to rescan are rescanned too (fewer {@code PAGEMAP_SCAN} calls). */
    private static final long RESCAN_BRIDGE = 1L << 20;

    private final int pid;
    private final DirtyTracker tracker;
    /** The process's pagemap, kept open for the pause's presence scans. */
    private final PagemapScan presentScan;
    private final EngineStats stats;
    /** Pre-copy before the stop ({@link EngineSettings#precopy()}). */
    private final boolean precopy = EngineSettings.precopy();
    /** An epoch after one that wrote less than this goes without a pre-copy ({@link EngineSettings#precopyMinBytes()}). */
    private final long precopyMinBytes = EngineSettings.precopyMinBytes();
    /** Bytes the last stop counted written (pre-copied or not): a small epoch predicts a small next one. */
    private long lastWrittenBytes = Long.MAX_VALUE;

    /** The epoch's pages in {@code copy} order, handed to the capture (shipping ends before the next capture). */
    private ByteBuffer staging = ByteBuffer.allocateDirect(8 << 20);
    /** Pages copied before the stop ({@link #preCopy}) and at the stop, gathered into {@link #staging} after it. */
    private ByteBuffer preBuf = ByteBuffer.allocateDirect(8 << 20), pauseBuf = ByteBuffer.allocateDirect(1 << 20);
    private boolean preCopied;
    /**
     * This epoch's precollect re-protected every page written before it: the stop's collect then leaves the pages
     * it reports written (the next precollect re-protects them, reporting them again), which keeps a TLB flush
     * per page table out of the pause.
     */
    private boolean reprotectedBeforeStop;
    /**
     * What collects of attempts given up since the last capture took from the tracker (a structure change found
     * while the memory thread collected, a failed seal): pages they reported (re-protected, or reported whole when
     * a range was registered) and removals they took. The next stop counts them as written and removed.
     */
    private long[] uncommittedWritten = Ranges.EMPTY, uncommittedRemoved = Ranges.EMPTY;
    /** Ranges pre-copies re-protected for epochs not captured since (a seal failed): the next epoch counts them written. */
    private long[] carried = Ranges.EMPTY;

    /** Opens the process's pagemap for presence scans; {@code tracker} stays the caller's. */
    public MemoryStage(int pid, DirtyTracker tracker, EngineStats stats) throws IOException {
        this.pid = pid;
        this.tracker = tracker;
        this.stats = stats;
        this.presentScan = PagemapScan.open(pid);
    }

    /**
     * While the process runs: the pages the tracker can report before the stop (uffd-wp), re-protected, copied
     * into {@link #preBuf}; the stop then copies only what was written again since. Empty when the tracker cannot;
     * when the copy fails (a range unmapped meanwhile) {@link #preCopied} is false and the stop copies them all.
     */
    public long[] preCopy() throws IOException {
        preCopied = false;
        reprotectedBeforeStop = false;
        if (!precopyDue()) return Ranges.EMPTY;
        long t0 = System.nanoTime();
        List<ProcessMemory.RemoteRange> w = tracker.precollect();
        reprotectedBeforeStop = w != null;
        if (w == null || w.isEmpty()) return Ranges.EMPTY;
        long[] pre = Ranges.of(w);
        long t1 = System.nanoTime();
        try {
            preBuf = copyPages(pre, preBuf);
            preCopied = true;
            stats.precopyPhases(t1 - t0, System.nanoTime() - t1);
        } catch (IOException e) {
            // re-protected already: the pages stay in the written set, they are just all copied at the stop
            log.debug("pre-copy of pid {} failed ({}): copying at the stop", pid, e.getMessage());
            stats.preCopyFailed();
        }
        return pre;
    }

    /**
     * Whether the next epoch pre-copies: unless that is off or the last epoch wrote less than
     * {@link EngineSettings#precopyMinBytes()}. Without it the stop re-protects what it collects (one walk of the
     * tracked ranges instead of two, a TLB flush per page table written in the pause).
     */
    public boolean precopyDue() {
        return precopy && lastWrittenBytes >= precopyMinBytes;
    }

    /**
     * Counts {@code pre} as carried until an epoch is captured; returns what earlier pre-copies re-protected for
     * epochs that were then skipped (a seal failed): written still.
     */
    public long[] carry(long[] pre) {
        long[] carry = carried;
        carried = Ranges.union(carried, pre);
        return carry;
    }

    /** An epoch was captured, or a CRIU dump taken: nothing carried or uncommitted counts any more. */
    public void reset() {
        carried = Ranges.EMPTY;
        uncommittedWritten = uncommittedRemoved = Ranges.EMPTY;
    }

    /** An attempt given up after its collect: what the collect took from the tracker counts at the next stop. */
    public void uncommitted(MemoryCapture m) {
        uncommittedWritten = Ranges.union(uncommittedWritten, m.collected());
        uncommittedRemoved = Ranges.union(uncommittedRemoved, m.removed());
    }

    /**
     * The memory of one stop, on the memory thread: collect (begun while {@code mapsRead} is still being read),
     * presence against what {@code ref} holds, and the copy of what was written and not pre-copied.
     */
    public MemoryCapture capture(DirtyTracker.MapsSource mapsRead, long[] pre, long[] carry, Reference ref) throws IOException {
        long t0 = System.nanoTime();
        // after a precollect the stop only reports: the next precollect re-protects them while the process runs.
        // The tracker begins while the tracer thread reads the maps (uffd-wp's walks need only what it tracked)
        long[] collected = Ranges.of(tracker.collect(mapsRead, !reprotectedBeforeStop));
        List<Vma> maps = mapsRead.get();
        DirtyTracker.Followed f = tracker.followed();
        long[] removed = f == null ? Ranges.EMPTY : Ranges.of(f.removed());
        // carried pages not pre-copied again are copied, and rescanned for presence, at the stop; so is what
        // attempts given up since the last capture collected (written after the pre-copy, or re-protected)
        long[] unsure = Ranges.union(uncommittedWritten, Ranges.subtract(carry, pre));
        long[] atStop = Ranges.union(collected, unsure);
        long[] written = Ranges.union(pre, atStop);
        lastWrittenBytes = Ranges.bytes(written);
        long t1 = System.nanoTime();
        // pages come and go without a structural change only in writable and in anonymous mappings (a write,
        // MADV_DONTNEED, an anonymous mapping replaced or made PROT_NONE): rescan those; the base dump's pages
        // of read-only file mappings and of [vdso] (CRIU's restorer checks its ELF header) stay as dumped
        Predicate<Vma> rescan = v -> v.isWritable() || Structure.isAnonymousPrivate(v);
        long[] present = ref.present();
        long[] kept = Ranges.ofVmas(maps, v -> v.isPrivate() && !rescan.test(v) && (!v.isSpecial() || v.path().equals("[vdso]")));
        long[] nowPresent = Ranges.union(presentIn(maps, rescan, Ranges.union(pre, collected), unsure,
                Ranges.union(removed, uncommittedRemoved), ref), Ranges.intersect(present, kept));
        long[] copy = Ranges.union(Ranges.intersect(written, nowPresent), Ranges.subtract(nowPresent, present));
        // pre-copied pages not written again since keep the bytes copied before the stop
        long[] fromPre = preCopied ? Ranges.intersect(copy, Ranges.subtract(pre, atStop)) : Ranges.EMPTY;
        long[] inPause = Ranges.subtract(copy, fromPre);
        long t2 = System.nanoTime();
        ByteBuffer buf = copyPages(inPause, pauseBuf);
        return new MemoryCapture(collected, removed, nowPresent, copy, fromPre, inPause, buf, t1 - t0, t2 - t1, System.nanoTime() - t2);
    }

    /**
     * The present pages of the VMAs {@code rescan} accepts. Where the tracker followed them since the last epoch they
     * are derived (why that is exact: docs/design/incremental.md): the pages {@code written} this epoch are present,
     * only the removed ranges and the {@code unsure} ones (written in attempts given up or epochs skipped) are
     * rescanned, and the rest keeps the last epoch's pages. Elsewhere everything is rescanned.
     */
    private long[] presentIn(List<Vma> maps, Predicate<Vma> rescan, long[] written, long[] unsure, long[] removed, Reference ref)
            throws IOException {
        DirtyTracker.Followed f = tracker.followed();
        if (f == null) return Ranges.of(PresentPages.of(pid, maps, rescan));
        long[] present = ref.present();
        long[] domain = Ranges.ofVmas(maps, v -> v.isPrivate() && !v.isSpecial() && rescan.test(v));
        long[] followed = Ranges.intersect(Ranges.of(f.ranges()), domain);
        // bridged: one PAGEMAP_SCAN call costs about as much as walking ~1000 page table entries, so scattered
        // removed pages are rescanned in a few wider calls rather than one each; rescanning more is still exact
        long[] changed = Ranges.intersect(Ranges.bridge(Ranges.union(removed, unsure), RESCAN_BRIDGE), followed);
        // not followed: rescanned, except a VMA that cannot gain a page (not writable, mapped as it was at the last
        // epoch; only a debugger's write through /proc/PID/mem would go unseen) and had none then, such as the JVM's
        // PROT_NONE reservations
        long[] quiet = Ranges.ofVmas(maps, v -> !v.isWritable() && ref.presentMaps().contains(v) && !Ranges.overlaps(present, v.start(), v.end()));
        long[] scanIn = Ranges.union(Ranges.subtract(Ranges.subtract(domain, followed), quiet), changed);
        long[] scanned = scanIn.length == 0 ? Ranges.EMPTY : Ranges.of(PresentPages.within(presentScan, pid, maps, Ranges.toRemote(scanIn)));
        stats.presence(Ranges.bytes(followed), Ranges.bytes(scanIn));
        long[] before = Ranges.union(present, written);
        return Ranges.union(Ranges.subtract(Ranges.intersect(before, followed), scanIn), scanned);
    }

    /**
     * The epoch's pages in {@code m.copy()} order, from the pre-copy's buffer ({@code pre}) and the pause's; the
     * buffer is the capture's until it has shipped.
     */
    public ByteBuffer pages(MemoryCapture m, long[] pre) throws IOException {
        pauseBuf = m.buf();
        staging = Ranges.gather(m.copy(), pre, preBuf, m.inPause(), m.buf(), atLeast(staging, Ranges.bytes(m.copy())));
        return staging;
    }

    /**
     * {@code buf}, or a larger direct buffer when it holds less than {@code bytes}. An epoch whose pages exceed the
     * direct memory left (-XX:MaxDirectMemorySize, by default the daemon's -Xmx) fails as an I/O error, which the
     * primary survives (the next epoch starts over from a CRIU dump), not as an OutOfMemoryError that ends protection.
     */
    private static ByteBuffer atLeast(ByteBuffer buf, long bytes) throws IOException {
        if (buf.capacity() >= bytes) return buf;
        if (bytes > Integer.MAX_VALUE - PAGE) throw new IOException("epoch wrote " + bytes + " bytes: too much for one staging buffer");
        try {
            return ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - PAGE, Math.max(bytes, buf.capacity() * 2L)));
        } catch (OutOfMemoryError e) {
            throw new IOException("epoch wrote " + (bytes >> 20) + " MiB: more than the direct memory left to stage its pages ("
                    + e.getMessage() + "); raise the daemon's -Xmx or -XX:MaxDirectMemorySize", e);
        }
    }

    /** Copies {@code copy} out of the process into {@code buf} (replaced by a larger one as needed), flipped. */
    private ByteBuffer copyPages(long[] copy, ByteBuffer buf) throws IOException {
        long bytes = Ranges.bytes(copy);
        ByteBuffer staging = atLeast(buf, bytes);
        staging.clear();
        List<ProcessMemory.RemoteRange> ranges = Ranges.toRemote(copy);
        long got;
        try {
            got = ProcessMemory.read(pid, ranges, staging);
        } catch (SyscallException e) {
            got = -1;
        }
        if (got != bytes) {
            // a page the process cannot read itself (PROT_NONE): /proc/PID/mem reads through the protection
            staging.clear();
            try (FileChannel mem = FileChannel.open(ProcFs.dir(pid).resolve("mem"), StandardOpenOption.READ)) {
                for (ProcessMemory.RemoteRange r : ranges) {
                    ByteBuffer dst = staging.slice(staging.position(), (int) r.length());
                    long pos = r.address();
                    while (dst.hasRemaining()) {
                        int k = mem.read(dst, pos);
                        if (k <= 0) throw new IOException("cannot read page 0x" + Long.toHexString(pos) + " of pid " + pid);
                        pos += k;
                    }
                    staging.position(staging.position() + (int) r.length());
                }
            }
        }
        staging.position((int) bytes);
        staging.flip();
        return staging;
    }

    @Override
    public void close() {
        presentScan.close();
    }
}
