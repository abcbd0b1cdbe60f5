package io.checkpointd.linux.track;

import static io.checkpointd.linux.testing.TrackChildProcess.pageRange;
import static io.checkpointd.linux.testing.TrackChildProcess.pages;
import static io.checkpointd.linux.testing.TrackChildProcess.pagesIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import io.checkpointd.linux.uffd.PagemapScan;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The uffd-wp tracker's edge cases: replaced mappings, ranges the kernel will not register, huge pages. */
@Timeout(30)
class UffdWpTrackerTest {
    private TrackChildProcess child;

    @BeforeEach
    void start() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.freezerKind() != FreezerKind.NONE, "no cgroup freezer");
        assumeTrue(Trackers.isUsable("uffd-wp"), () -> Trackers.availability().get("uffd-wp"));
        child = new TrackChildProcess();
    }

    @AfterEach
    void stop() throws Exception {
        if (child != null) child.close();
    }

    @Test
    void aReplacedMappingIsReportedWholeAndTrackedAgain() throws Exception {
        long b = child.alloc("b", 16, true);
        try (DirtyTracker t = armed()) {
            child.cmd("remap b 5");        // page 5 is a new, unregistered mapping now
            child.cmd("write b 9 1 3");    // a registered page of the old mapping
            assertThat(pagesIn(collect(t), b, 16)).as("b whole").isEqualTo(pageRange(b, 0, 16));
            assertThat(t.counters().get("replaced-ranges")).isEqualTo(1);
            child.cmd("write b 5 1 3");
            assertThat(pagesIn(collect(t), b, 16)).as("registered again").isEqualTo(pages(b, 5));
        }
    }

    @Test
    void aReplacedMappingMadeReadOnlyBeforeTheStopIsReportedWhole() throws Exception {
        long b = child.alloc("b", 16, true);
        try (DirtyTracker t = armed()) {
            child.cmd("remap b 5"); // a new page, written, over a tracked one
            child.cmd("mprotect b 1"); // then all of b read-only: no trackable range covers page 5
            assertThat(pagesIn(collect(t), b, 16)).as("the new page among those reported").containsAll(pages(b, 5));
            assertThat(t.counters().get("replaced-ranges")).isEqualTo(1);
        }
    }

    @Test
    void aRangeTheKernelRefusesIsReportedWholeEveryEpochAndCounted() throws Exception {
        String addr = child.cmd("allocdrop d 4");
        assumeTrue(!addr.equals("unsupported"), "MAP_DROPPABLE needs kernel 6.11+");
        long d = Long.parseUnsignedLong(addr, 16);
        try (DirtyTracker t = armed()) {
            for (int epoch = 0; epoch < 2; epoch++) {
                assertThat(pagesIn(collect(t), d, 4)).as("epoch %d", epoch).isEqualTo(pageRange(d, 0, 4));
                assertThat(t.counters().get("unregistered-ranges")).isGreaterThanOrEqualTo(1);
            }
        }
    }

    @Test
    void writesJustBeforeAnMprotectAreReportedAndTheRangeStaysTracked() throws Exception {
        long a = child.alloc("a", 8, true);
        try (DirtyTracker t = armed()) {
            child.cmd("write a 3 1 1");
            child.cmd("mprotect a 1"); // PROT_READ
            assertThat(pagesIn(collect(t), a, 8)).isEqualTo(pages(a, 3));
            child.cmd("mprotect a 3");
            child.cmd("write a 4 1 1");
            assertThat(pagesIn(collect(t), a, 8)).as("still tracked, not reported whole").isEqualTo(pages(a, 4));
        }
    }

    @Test
    void writtenPagesSpreadOverPageTablesAndMappingsAreProtectedAgainAndNoOthersLeftOpen() throws Exception {
        long a = child.alloc("a", 1200, true); // over two page tables (512 pages each)
        long b = child.alloc("b", 8, false);
        try (DirtyTracker t = armed()) {
            child.cmd("write a 0 1 1");
            child.cmd("write a 600 1 1");
            child.cmd("write a 1199 1 1");
            child.cmd("write b 2 1 1");
            List<RemoteRange> first = collect(t);
            assertThat(pagesIn(first, a, 1200)).isEqualTo(pages(a, 0, 600, 1199));
            assertThat(pagesIn(first, b, 8)).isEqualTo(pages(b, 2));
            // a page written twice, one never written between two that were, one never touched
            child.cmd("write a 600 1 2");
            child.cmd("write a 300 1 2");
            child.cmd("write b 5 1 2");
            List<RemoteRange> second = collect(t);
            assertThat(pagesIn(second, a, 1200)).isEqualTo(pages(a, 300, 600));
            assertThat(pagesIn(second, b, 8)).isEqualTo(pages(b, 5));
            assertThat(pagesIn(collect(t), a, 1200)).as("nothing written since").isEmpty();
        }
    }

    @Test
    void moreWrittenRegionsThanOneScanHoldsAreReportedOnceInOrderAndProtectedAgain() throws Exception {
        // 6,000 written pages 17 pages apart: more regions than the scan's vector (4,096) and the kernel's buffer
        // (512), each its own re-protect span; this kernel's PAGEMAP_SCAN can return a walk_end short of where its
        // walk ended, and a scan resumed from there reported regions a second time, out of order
        int n = 6_000, stride = 17;
        long a = child.alloc("a", n * stride, false);
        try (DirtyTracker t = armed()) {
            child.cmd("writestride a 0 " + n + " " + stride + " 1");
            List<PagemapScan.PageRegion> raw = child.paused(sp -> {
                try (PagemapScan scan = PagemapScan.open(child.pid())) {
                    return scan.written(a, a + (long) n * stride * 4096, false);
                }
            });
            assertThat(raw).hasSize(n);
            for (int i = 1; i < raw.size(); i++) assertThat(raw.get(i).start()).isGreaterThanOrEqualTo(raw.get(i - 1).end());
            List<Long> expect = new ArrayList<>();
            for (int i = 0; i < n; i++) expect.add(a + (long) stride * i * 4096);
            assertThat(pagesIn(collect(t), a, n * stride)).isEqualTo(expect);
            child.cmd("writestride a 1 " + n + " " + stride + " 2");
            List<Long> next = new ArrayList<>();
            for (int i = 0; i < n; i++) next.add(a + ((long) stride * i + 1) * 4096);
            assertThat(pagesIn(collect(t), a, n * stride)).as("the first pages protected again").isEqualTo(next);
        }
    }

    @Test
    void aWrittenTransparentHugePageIsReportedInPageAlignedRanges() throws Exception {
        long h = child.alloc("h", 8, true); // warm up the command path
        h = Long.parseUnsignedLong(child.cmd("allocthp h 1024"), 16);
        long huge = anonHugeKb(h);
        try (DirtyTracker t = armed()) {
            child.cmd("write h 7 1 5");
            List<RemoteRange> got = collect(t);
            List<Long> inH = pagesIn(got, h, 1024);
            System.out.printf("THP: AnonHugePages %d kB; one written 4 KiB page reported as %d pages%n", huge, inH.size());
            assertThat(inH).contains(h + 7 * 4096L);
            assertThat(inH.size()).as("the page, or its whole 2 MiB THP").isIn(1, 512);
            DirtyTrackerTest.assertSortedMergedAligned(got);
            child.cmd("write h 600 1 5");
            assertThat(pagesIn(collect(t), h, 1024)).contains(h + 600 * 4096L).hasSizeLessThanOrEqualTo(512);
        }
    }

    @Test
    void removalsAreHeardSoThePresentPagesOfTrackedRangesNeedNoRescan() throws Exception {
        long a = child.alloc("a", 16, true);
        long u = child.alloc("u", 4, true);
        try (DirtyTracker t = armed()) {
            collect(t);
            DirtyTracker.Followed f = t.followed();
            assertThat(f).isNotNull();
            assertThat(pagesIn(f.ranges(), a, 16)).as("a followed").isEqualTo(pageRange(a, 0, 16));
            assertThat(pagesIn(f.ranges(), u, 4)).as("u followed").isEqualTo(pageRange(u, 0, 4));
            assertThat(f.removed()).as("nothing removed yet").isEmpty();

            child.cmd("dontneed a 2 3"); // returns only once the tracker's reader has read the event
            child.cmd("write a 3 1 7");   // one of them written again
            child.cmd("unmap u");
            // the write scan also reports the dropped pages (a pte emptied since it was protected counts as written)
            assertThat(pagesIn(collect(t), a, 16)).as("written").contains(a + 3 * 4096L).isSubsetOf(pageRange(a, 2, 5));
            f = t.followed();
            assertThat(pagesIn(f.removed(), a, 16)).as("removed by MADV_DONTNEED").isEqualTo(pageRange(a, 2, 5));
            assertThat(pagesIn(f.ranges(), u, 4)).as("u, unmapped, no longer followed").isEmpty();
            assertThat(t.counters().get("remove-events")).isGreaterThanOrEqualTo(1);

            collect(t);
            assertThat(t.followed().removed()).as("each removal reported once").isEmpty();
        }
        child.cmd("dontneed a 0 1"); // with the tracker closed, nothing waits for a reader any more
    }

    @Test
    void aCollectThatDoesNotRearmLeavesItsPagesWrittenUntilThePrecollect() throws Exception {
        long a = child.alloc("a", 16, true);
        try (DirtyTracker t = armed()) {
            child.cmd("write a 3 1 1");
            assertThat(pagesIn(collect(t, false), a, 16)).as("reported").isEqualTo(pages(a, 3));
            child.cmd("write a 7 1 1");
            // not re-protected: reported again, with the new write
            assertThat(pagesIn(collect(t, false), a, 16)).as("still written").isEqualTo(pages(a, 3, 7));
            // the precollect reports them once more and re-protects them
            assertThat(pagesIn(t.precollect(), a, 16)).as("precollect").isEqualTo(pages(a, 3, 7));
            assertThat(pagesIn(collect(t, false), a, 16)).as("nothing written since the precollect").isEmpty();
            child.cmd("write a 9 1 1");
            assertThat(pagesIn(collect(t, false), a, 16)).as("a write after it").isEqualTo(pages(a, 9));

            // what collect does besides the written pages it does either way: a new range is registered and reported whole
            long b = child.alloc("b", 4, true);
            child.cmd("write b 0 4 2");
            assertThat(pagesIn(collect(t, false), b, 4)).as("b whole").isEqualTo(pageRange(b, 0, 4));
            assertThat(pagesIn(t.precollect(), b, 4)).as("b registered and protected").isEmpty();
        }
    }

    @Test
    void aCollectReportsNothingOutsideTheTrackedRanges() throws Exception {
        // The written pages are taken in one walk over the span of the tracked ranges; between them lie mappings
        // that are not registered (the program's and libc's text, read-only data, guard pages), whose populated
        // pages a report-only walk reports as written: they must not come out of collect.
        long a = child.alloc("a", 16, true);
        try (DirtyTracker t = armed()) {
            t.precollect();
            child.cmd("write a 3 1 1");
            List<RemoteRange> written = collect(t, false);
            assertThat(pagesIn(written, a, 16)).as("a").isEqualTo(pages(a, 3));
            java.util.TreeMap<Long, Long> tracked = new java.util.TreeMap<>(((UffdWpTracker) t).tracked());
            for (RemoteRange r : written) {
                var in = tracked.floorEntry(r.address());
                assertThat(in != null && r.address() + r.length() <= in.getValue())
                        .as("%x-%x inside a tracked range", r.address(), r.address() + r.length()).isTrue();
            }
        }
    }

    private DirtyTracker armed() throws Exception {
        DirtyTracker t = Trackers.open("uffd-wp", child.pid());
        child.paused(sp -> {
            t.arm(ProcFs.maps(child.pid()));
            return null;
        });
        return t;
    }

    private List<RemoteRange> collect(DirtyTracker t) throws Exception {
        return child.paused(sp -> t.collect(ProcFs.maps(child.pid())));
    }

    private List<RemoteRange> collect(DirtyTracker t, boolean rearm) throws Exception {
        return child.paused(sp -> t.collect(ProcFs.maps(child.pid()), rearm));
    }

    private long anonHugeKb(long address) throws Exception {
        boolean in = false;
        for (String l : Files.readAllLines(Path.of("/proc", Integer.toString(child.pid()), "smaps"))) {
            int dash = l.indexOf('-'), sp = l.indexOf(' ');
            if (dash > 0 && sp > dash && l.substring(0, dash).matches("[0-9a-f]+")) {
                in = Long.parseUnsignedLong(l.substring(0, dash), 16) <= address && address < Long.parseUnsignedLong(l.substring(dash + 1, sp), 16);
            } else if (in && l.startsWith("AnonHugePages:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
