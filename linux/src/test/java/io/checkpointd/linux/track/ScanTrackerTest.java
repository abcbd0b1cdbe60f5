package io.checkpointd.linux.track;

import static io.checkpointd.linux.testing.TrackChildProcess.pages;
import static io.checkpointd.linux.testing.TrackChildProcess.pagesIn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.Features;
import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.freezer.FreezerKind;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.testing.TrackChildProcess;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code scan} after a CRIU dump: the next collect compares with the dump's bytes. A dump reads pages while CRIU's
 * parasite runs in the process; a page it read while changed (a thread's rseq {@code cpu_id}, rewritten by the
 * kernel on the CPU the parasite ran on) and changed back before the next collect must be reported, or the image
 * keeps the dump's bytes.
 */
@Timeout(60)
class ScanTrackerTest {
    private static final int PAGE = 4096;

    @Test
    void comparesTheCollectAfterADumpWithTheDumpsBytes() throws Exception {
        assumeTrue(Features.ptrace().isAvailable(), () -> Features.ptrace().toString());
        assumeTrue(Features.freezerKind() != FreezerKind.NONE, "no cgroup freezer");
        try (TrackChildProcess child = new TrackChildProcess()) {
            long a = child.alloc("a", 4, true);
            child.cmd("write a 0 4 7");
            try (DirtyTracker t = Trackers.open("scan", child.pid())) {
                child.paused(sp -> {
                    t.arm(ProcFs.maps(child.pid()));
                    return null;
                });
                // the dump: page 0 read while it held 9, page 1 as it is, pages 2 and 3 not in it; then page 0 is 7 again
                child.cmd("write a 0 1 9");
                ByteBuffer dump = ByteBuffer.allocateDirect(2 * PAGE);
                ProcessMemory.read(child.pid(), List.of(new RemoteRange(a, 2 * PAGE)), dump);
                child.cmd("write a 0 1 7");
                t.dumped(sink -> {
                    sink.page(a, dump.slice(0, PAGE));
                    sink.page(a + PAGE, dump.slice(PAGE, PAGE));
                });
                List<RemoteRange> got = child.paused(sp -> t.collect(ProcFs.maps(child.pid())));
                assertThat(pagesIn(got, a, 4)).as("page 0 differs from the dump; pages 2 and 3 are not in it")
                        .isEqualTo(pages(a, 0, 2, 3));
                got = child.paused(sp -> t.collect(ProcFs.maps(child.pid())));
                assertThat(pagesIn(got, a, 4)).as("compared with the last collect again").isEmpty();
            }
            child.cmd("ping");
        }
    }
}
