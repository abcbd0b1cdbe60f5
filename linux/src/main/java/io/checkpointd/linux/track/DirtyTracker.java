package io.checkpointd.linux.track;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.Vma;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * Which pages of one process were written between two epochs. Obtain one from {@link Trackers#open}.
 *
 * <pre>
 *   open --arm(maps)--> [armed] --collect(maps)--> [armed] ... --close()--> gone
 * </pre>
 *
 * <p>{@link #arm} and {@link #collect} are called with the process frozen or all its threads stopped
 * ({@link io.checkpointd.linux.ptrace.Tracer}, StoppedProcess (tests)), from one thread;
 * {@link #precollect} while it runs, on that same thread. {@code maps} is
 * {@link io.checkpointd.linux.proc.ProcFs#maps(int)} read in that same pause.
 *
 * <p>What writes do not show: a page zeroed without a write ({@code madvise(MADV_DONTNEED)}, {@code MADV_FREE}
 * reclaimed). The caller regenerates the epoch's pagemap from {@link PresentPages}, which drops such pages, in
 * every range except those {@link #followed()} says the tracker followed (uffd-wp hears of every removal there).
 */
public interface DirtyTracker extends AutoCloseable {
    /** {@code "uffd-wp"}, {@code "soft-dirty"} or {@code "scan"}. */
    String name();

    /**
     * From now on writes are tracked: registers/clears every private writable range of {@code maps}, and every
     * readable read-only anonymous one (its bytes change only by being mapped again: {@code Ranges.trackable}).
     */
    void arm(List<Vma> maps) throws IOException;

    /**
     * Every page written since {@link #arm} or the previous collect, re-arming atomically (the process is
     * stopped, so nothing written later is lost), plus, whole, the present pages of trackable ranges (private
     * writable, or anonymous readable) not tracked before (new, grown, split or replaced VMAs: they are registered
     * now). Ranges gone from {@code maps}
     * stop being tracked; ranges that became read-only stay tracked (writes just before an {@code mprotect}
     * are only reported there).
     *
     * @return page-aligned ranges, sorted and merged
     */
    List<RemoteRange> collect(List<Vma> maps) throws IOException;

    /**
     * {@link #collect(List)}, or with {@code rearm} false, where the tracker can: the written pages are reported and
     * left unprotected, so the next {@link #precollect} (or collect) reports them again. Meant for a pause that a
     * {@link #precollect} precedes every time: re-protecting costs a TLB flush per page table touched
     * (docs/design/incremental.md), which the precollect pays while the process runs. Whatever else collect does
     * (new ranges registered and reported whole, unmapped ranges dropped, removals taken) it does either way. The
     * default re-arms always.
     */
    default List<RemoteRange> collect(List<Vma> maps, boolean rearm) throws IOException {
        return collect(maps);
    }

    /** The stopped process's memory map, being read on another thread: {@link #get} waits for it. */
    @FunctionalInterface
    interface MapsSource {
        List<Vma> get() throws IOException;
    }

    /**
     * {@link #collect(List, boolean)} while another thread reads the maps: a tracker that can begin without them
     * does (uffd-wp walks the page tables of the ranges it tracked so far), and asks {@code maps} only for what
     * needs them. The default waits for them first.
     */
    default List<RemoteRange> collect(MapsSource maps, boolean rearm) throws IOException {
        return collect(maps.get(), rearm);
    }

    /**
     * While the process runs, just before a stop: the pages of tracked ranges written since the last collect,
     * re-protected (atomically per page), so that the caller can copy them before stopping the process. A page
     * written again after its re-protection is reported by the next {@link #collect}; one that is not keeps the
     * bytes copied now. Does not register new ranges or consume removals: the next {@link #collect} does, at the
     * stop. Null (the default) if the tracker cannot: then {@link #collect} reports everything.
     *
     * @return page-aligned ranges, sorted and merged; or null. Like {@link #collect} they may include pages emptied
     *         since they were protected (they read as zeros): whether a page is present is the caller's to scan
     */
    default List<RemoteRange> precollect() throws IOException {
        return null;
    }

    /**
     * After {@link #collect}: ranges in which the tracker saw every way a page could appear or go since the
     * previous collect (appear: a write, reported by collect; go: a removal, listed in {@code removed}), so the
     * caller can derive their present pages instead of rescanning them. Null (the default) when it cannot tell.
     */
    default Followed followed() {
        return null;
    }

    /**
     * @param ranges  followed ranges (sorted, disjoint)
     * @param removed ranges dropped without a write (unsorted, may overlap, may reach outside {@code ranges});
     *                their pages present now are only known by rescanning them
     */
    record Followed(List<RemoteRange> ranges, List<RemoteRange> removed) {
    }

    /**
     * After a CRIU dump taken in the same freeze as an {@link #arm} or {@link #collect}: the dump's pages, which the
     * backup holds from then on. A tracker that finds writes by comparing contents ({@code scan}) compares the next
     * collect with these bytes rather than with what it read before the dump: CRIU reads the pages while its parasite
     * runs in the process, and a change made then and undone before the next collect (the kernel rewrites a thread's
     * rseq {@code cpu_id} whenever it returns to user space on another CPU) would otherwise leave the dump's bytes in
     * the image. Trackers that see writes themselves ignore it: the default does not read the pages.
     */
    default void dumped(DumpedPages pages) throws IOException {
    }

    /** A dump's pages, read only when {@link #forEach} is called. */
    @FunctionalInterface
    interface DumpedPages {
        /** Calls {@code sink} for every page of the dump: its address, its 4096 bytes from position to limit. */
        void forEach(PageSink sink) throws IOException;
    }

    /** Receives one page of a {@link DumpedPages}; the buffer is valid during the call only. */
    @FunctionalInterface
    interface PageSink {
        void page(long address, ByteBuffer page);
    }

    /**
     * Counters for {@code status} and logs, e.g. {@code "unregistered-ranges"} (ranges the kernel refused to
     * track, reported whole every epoch) or {@code "whole-bytes"} (bytes reported whole by the last collect).
     */
    default Map<String, Long> counters() {
        return Map.of();
    }

    @Override
    void close();
}
