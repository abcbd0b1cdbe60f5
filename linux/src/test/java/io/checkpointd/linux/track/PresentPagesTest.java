package io.checkpointd.linux.track;

import static io.checkpointd.linux.testing.TrackChildProcess.pageRange;
import static io.checkpointd.linux.testing.TrackChildProcess.pagesIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class PresentPagesTest {
    @Test
    void excludesPagesZeroedByMadviseDontneedAndUntouchedPages() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        try (TrackChildProcess child = new TrackChildProcess()) {
            long b = child.alloc("b", 16, true);
            long c = child.alloc("c", 8, false);
            child.cmd("dontneed b 4 4");
            List<Vma> maps = ProcFs.maps(child.pid());
            // both whole-process scans with the child stopped: it is a JVM, whose malloc arenas and heap gain and
            // lose pages between two scans of it running (the comparison failed once that way in CI)
            List<List<RemoteRange>> both = child.paused(sp -> List.of(PresentPages.of(child.pid(), maps),
                    PresentPages.viaPagemapFile(child.pid(), maps)));
            List<RemoteRange> viaScan = both.get(0);
            List<Long> expect = new ArrayList<>(pageRange(b, 0, 4));
            expect.addAll(pageRange(b, 8, 16));
            assertThat(pagesIn(viaScan, b, 16)).isEqualTo(expect);
            assertThat(pagesIn(viaScan, c, 8)).isEmpty();
            DirtyTrackerTest.assertSortedMergedAligned(viaScan);

            List<RemoteRange> viaFile = both.get(1);
            assertThat(pagesIn(viaFile, b, 16)).isEqualTo(expect);
            assertThat(pagesIn(viaFile, c, 8)).isEmpty();
            assertThat(viaFile).as("both paths agree on the whole process").isEqualTo(viaScan);
            List<RemoteRange> anonOnly = PresentPages.of(child.pid(), maps, v -> v.inode() == 0);
            assertThat(pagesIn(anonOnly, b, 16)).isEqualTo(expect);
            assertThat(Ranges.total(anonOnly)).isLessThanOrEqualTo(Ranges.total(viaScan));

            // Nothing of the kernel's special mappings, shared mappings or (unmodified) code. Read-only private
            // file mappings can hold anonymous pages: RELRO (GOT) was written by the loader, then mprotected.
            for (Vma v : maps) {
                if (Ranges.isSpecial(v) || !v.isPrivate() || (v.inode() != 0 && v.isExecutable())) {
                    assertThat(pagesIn(viaScan, v.start(), (int) (v.length() / 4096))).as("%s", v).isEmpty();
                }
            }
        }
    }
}
