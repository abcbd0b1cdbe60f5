package io.checkpointd.linux.track;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.Vma;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The byte-level parts of the soft-dirty tracker and the pagemap path, and the range arithmetic. */
class PagemapParsingTest {
    private static final long P = Pagemap.PM_PRESENT, S = Pagemap.PM_SWAP, SD = Pagemap.PM_SOFT_DIRTY, F = Pagemap.PM_FILE;

    private static ByteBuffer entries(long... e) {
        ByteBuffer b = ByteBuffer.allocate(e.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : e) b.putLong(x);
        return b.flip();
    }

    @Test
    void softDirtyRangesArePresentOrSwappedDirtyPagesMerged() {
        long base = 0x7f0000000000L;
        // page: 0 dirty+present, 1 dirty+present, 2 clean present, 3 dirty not present (new VMA), 4 dirty swapped,
        // 5 dirty present, 6 present clean
        ByteBuffer b = entries(P | SD | 123, P | SD | 124, P | 125, SD, S | SD | 77, P | SD | 5, P | 9);
        List<RemoteRange> out = new ArrayList<>();
        Pagemap.selectEntries(base, b, 7, SoftDirtyTracker::written, out);
        assertThat(out).containsExactly(new RemoteRange(base, 2 * 4096), new RemoteRange(base + 4 * 4096, 2 * 4096));
    }

    @Test
    void aRunReachingTheEndOfTheBufferIsClosed() {
        List<RemoteRange> out = new ArrayList<>();
        Pagemap.selectEntries(0x1000, entries(0, P | SD, P | SD), 3, SoftDirtyTracker::written, out);
        assertThat(out).containsExactly(new RemoteRange(0x2000, 0x2000));
        // a second buffer continuing right after extends the same range
        Pagemap.selectEntries(0x4000, entries(P | SD), 1, SoftDirtyTracker::written, out);
        assertThat(out).containsExactly(new RemoteRange(0x2000, 0x3000));
    }

    @Test
    void dumpableFollowsCriusShouldDumpPage() {
        long zero = 4242;
        assertThat(PresentPages.dumpable(P | 100, zero)).isTrue();
        assertThat(PresentPages.dumpable(S | 100, zero)).isTrue();
        assertThat(PresentPages.dumpable(0, zero)).as("not present").isFalse();
        assertThat(PresentPages.dumpable(P | zero, zero)).as("zero page").isFalse();
        assertThat(PresentPages.dumpable(S | zero, zero)).as("swap offset that equals the zero pfn").isTrue();
        assertThat(PresentPages.dumpable(P | F | 100, zero)).as("page cache of a private file mapping").isFalse();
        assertThat(PresentPages.dumpable(P | zero, -1)).as("zero pfn unknown: dump").isTrue();
    }

    @Test
    void rangeArithmetic() {
        List<Vma> maps = List.of(
                vma(0x1000, 0x3000, "rw-p", ""),
                vma(0x3000, 0x5000, "rw-p", ""),     // adjacent: merged
                vma(0x5000, 0x6000, "r--p", ""),     // read-only now
                vma(0x8000, 0x9000, "rw-s", ""),     // shared: never tracked
                vma(0xa000, 0xb000, "rw-p", "[vvar]"),
                vma(0xc000, 0xe000, "rw-p", ""));
        TreeMap<Long, Long> tracked = new TreeMap<>(Map.of(0x1000L, 0x2000L, 0x5000L, 0x6000L, 0x6000L, 0x7000L, 0x8000L, 0x9000L));
        Ranges.dropUnmapped(tracked, maps);
        assertThat(tracked).as("read-only part kept, unmapped and shared parts dropped")
                .containsExactlyEntriesOf(new TreeMap<>(Map.of(0x1000L, 0x2000L, 0x5000L, 0x6000L)));
        assertThat(Ranges.uncovered(tracked, maps)).containsExactly(new long[] {0x2000, 0x5000}, new long[] {0xc000, 0xe000});
        tracked.put(0x2000L, 0x5000L);
        Ranges.coalesce(tracked);
        assertThat(tracked).containsExactlyEntriesOf(new TreeMap<>(Map.of(0x1000L, 0x6000L)));

        assertThat(Ranges.sortMerge(List.of(new RemoteRange(0x5000, 0x1000), new RemoteRange(0x1000, 0x2000),
                new RemoteRange(0x3000, 0x1000), new RemoteRange(0x2000, 0x1000))))
                .containsExactly(new RemoteRange(0x1000, 0x3000), new RemoteRange(0x5000, 0x1000));
    }

    @Test
    void theZeroPagePfnIsSharedOrNone() throws Exception {
        String cmdline = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cmdline"));
        long pfn = Pagemap.zeroPagePfn();
        if (cmdline.contains("pvm_no_zero_page=1")) {
            assertThat(pfn).as("no shared zero page on this kernel: every read maps a page of its own").isEqualTo(-1);
        } else if (pfn >= 0) {
            assertThat(pfn).as("a page that a read of fresh anonymous memory maps").isPositive();
        }
    }

    private static Vma vma(long s, long e, String perms, String path) {
        return new Vma(s, e, perms, 0, "00:00", 0, path);
    }
}
