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
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every tracker usable here, against a live child JVM: writes are reported page-exactly inside the test's own
 * regions, a new mapping comes whole, an unmapped one drops out, nothing is reported twice.
 */
@Timeout(60)
class DirtyTrackerTest {
    @ParameterizedTest
    @ValueSource(strings = {"uffd-wp", "soft-dirty", "scan"})
    void reportsWrittenPagesNewRegionsWholeAndDropsUnmappedOnes(String kind) throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.freezerKind() != FreezerKind.NONE, "no cgroup freezer");
        assumeTrue(Trackers.isUsable(kind), () -> Trackers.availability().get(kind));
        try (TrackChildProcess child = new TrackChildProcess()) {
            long a = child.alloc("a", 64, true);
            try (DirtyTracker t = Trackers.open(kind, child.pid())) {
                assertThat(t.name()).isEqualTo(kind);
                child.paused(sp -> {
                    t.arm(ProcFs.maps(child.pid()));
                    return null;
                });
                assertThat(collect(child, t)).as("nothing written in a yet").noneMatch(r -> overlaps(r, a, 64));

                child.cmd("write a 3 1 7");
                child.cmd("write a 10 4 7");
                List<RemoteRange> got = collect(child, t);
                assertThat(pagesIn(got, a, 64)).as("written pages of a").isEqualTo(pages(a, 3, 10, 11, 12, 13));
                assertThat(Ranges.total(got)).as("slack: the child JVM writes a little of its own").isLessThan(32L << 20);
                assertSortedMergedAligned(got);
                System.out.printf("%s: first collect %d ranges, %d KiB, counters %s%n", kind, got.size(), Ranges.total(got) >> 10, t.counters());

                assertThat(pagesIn(collect(child, t), a, 64)).as("re-armed: reported once").isEmpty();

                long b = child.alloc("b", 16, true);
                got = collect(child, t);
                assertThat(pagesIn(got, b, 16)).as("new region b, whole").isEqualTo(pageRange(b, 0, 16));
                assertThat(pagesIn(got, a, 64)).isEmpty();

                // A range made inaccessible stays tracked: the write just before the mprotect is still reported
                // (scan reads it through /proc/PID/mem, which process_vm_readv cannot).
                child.cmd("write a 20 1 5");
                child.cmd("mprotect a 0");
                assertThat(pagesIn(collect(child, t), a, 64)).as("written before mprotect(PROT_NONE)").isEqualTo(pages(a, 20));
                if (kind.equals("scan")) assertThat(t.counters().get("proc-mem-fallbacks")).isPositive();
                child.cmd("mprotect a 3");
                child.cmd("write a 21 1 5");
                assertThat(pagesIn(collect(child, t), a, 64)).as("writable again, not new").isEqualTo(pages(a, 21));

                child.cmd("write b 2 1 9");
                child.cmd("unmap a");
                got = collect(child, t);
                assertThat(pagesIn(got, a, 64)).as("unmapped a").isEmpty();
                assertThat(pagesIn(got, b, 16)).isEqualTo(pages(b, 2));
                if (t instanceof UffdWpTracker u) {
                    assertThat(u.tracked().entrySet()).as("a no longer tracked")
                            .noneMatch(e -> e.getKey() < a + 64 * 4096L && e.getValue() > a);
                    assertThat(t.counters().get("unregistered-ranges")).isZero();
                }

                long c = child.alloc("c", 8, false); // never touched: nothing present, nothing to report
                child.cmd("write b 15 1 1");
                got = collect(child, t);
                assertThat(pagesIn(got, c, 8)).isEmpty();
                assertThat(pagesIn(got, b, 16)).isEqualTo(pages(b, 15));
                child.cmd("write c 5 1 1");
                assertThat(pagesIn(collect(child, t), c, 8)).as("first write to an untouched page").isEqualTo(pages(c, 5));
            }
            child.cmd("ping");
        }
    }

    /**
     * A read-only anonymous page mapped again over itself between two stops (mmap {@code MAP_FIXED}, written,
     * {@code mprotect} read-only: what the JVM demo's churn did by chance, a mapping reusing the address of one just
     * unmapped) keeps its maps line and changes its bytes: it must be reported, once.
     */
    @ParameterizedTest
    @ValueSource(strings = {"uffd-wp", "soft-dirty", "scan"})
    void reportsAReadOnlyPageMappedAgainOverItself(String kind) throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.freezerKind() != FreezerKind.NONE, "no cgroup freezer");
        assumeTrue(Trackers.isUsable(kind), () -> Trackers.availability().get(kind));
        try (TrackChildProcess child = new TrackChildProcess()) {
            long r = child.alloc("r", 3, true);
            child.cmd("write r 0 3 7");
            child.cmd("mprotect r 1 1 1"); // page 1 PROT_READ before the arming: never writable while tracked
            try (DirtyTracker t = Trackers.open(kind, child.pid())) {
                child.paused(sp -> {
                    t.arm(ProcFs.maps(child.pid()));
                    return null;
                });
                assertThat(pagesIn(collect(child, t), r, 3)).as("nothing written in r yet").isEmpty();
                String before = mapsLine(child.pid(), r + 4096);
                child.cmd("remap r 1"); // a fresh read-write page over page 1, written
                child.cmd("mprotect r 1 1 1");
                assertThat(mapsLine(child.pid(), r + 4096)).as("the maps do not show it").isEqualTo(before);
                // uffd-wp reports the whole tracked range the new VMA cut into (pages 0-2): more than needed, never less
                assertThat(pagesIn(collect(child, t), r, 3)).as("the page mapped again, with new bytes").containsAll(pages(r, 1));
                assertThat(pagesIn(collect(child, t), r, 3)).as("reported once").isEmpty();
            }
            child.cmd("ping");
        }
    }

    private static String mapsLine(int pid, long address) throws Exception {
        return ProcFs.maps(pid).stream().filter(v -> v.contains(address)).findFirst().orElseThrow().toString();
    }

    private static List<RemoteRange> collect(TrackChildProcess child, DirtyTracker t) throws Exception {
        return child.paused(sp -> t.collect(ProcFs.maps(child.pid())));
    }

    private static boolean overlaps(RemoteRange r, long start, int pages) {
        return r.address() < start + pages * 4096L && r.address() + r.length() > start;
    }

    static void assertSortedMergedAligned(List<RemoteRange> rs) {
        long prevEnd = -1;
        for (RemoteRange r : rs) {
            assertThat(r.address() % 4096).isZero();
            assertThat(r.length() % 4096).isZero();
            assertThat(r.length()).isPositive();
            assertThat(r.address()).as("sorted and merged").isGreaterThan(prevEnd);
            prevEnd = r.address() + r.length();
        }
    }
}
