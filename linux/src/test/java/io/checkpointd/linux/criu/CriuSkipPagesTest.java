package io.checkpointd.linux.criu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.ProcessMemory;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.PresentPages;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --skip-pages-in} (scripts/criu-patches/0001-skip-pages-in.patch) through libcriu: the pages of the ranges
 * listed are left out of the dump, exactly those. Runs where the located CRIU has the patch
 * ({@code CHECKPOINTD_CRIU_PREFIX}).
 */
class CriuSkipPagesTest {
    @TempDir
    Path tmp;

    private Process service;

    @AfterEach
    void stopService() throws Exception {
        if (service != null) {
            service.destroyForcibly();
            service.waitFor();
        }
    }

    @Test
    void pagesOfTheListedRangesAreLeftOutExactly() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        assumeTrue(criu.canSkipPages(), () -> criu.binary() + " lacks --skip-pages-in (run scripts/install-criu)");
        service = CriuTestSupport.startCounterService(tmp.resolve("port"));
        int pid = (int) service.pid();
        CriuTestSupport.awaitPort(tmp.resolve("port"), service, Duration.ofSeconds(30));
        // stopped, so both dumps see the same memory (CRIU dumps a stopped task and leaves it stopped)
        new ProcessBuilder("kill", "-STOP", Integer.toString(pid)).start().waitFor();
        try {
            List<Vma> maps = ProcFs.maps(pid);
            // the anonymous private writable VMA with the most present pages: the Java heap
            Vma big = null;
            long bigBytes = -1;
            for (Vma v : maps) {
                if (!v.isPrivate() || !v.isWritable() || v.inode() != 0 || !v.path().isEmpty()) continue;
                long b = present(pid, maps, v);
                if (b > bigBytes) {
                    big = v;
                    bigBytes = b;
                }
            }
            assertThat(bigBytes).as("present bytes of the largest anonymous VMA").isGreaterThan(256 << 10);

            long whole = dumpPages(criu, pid, "whole", null);
            Path skip = tmp.resolve("skip");
            Files.writeString(skip, "# the heap\n" + Long.toHexString(big.start()) + "-" + Long.toHexString(big.end()) + "\n");
            long skipped = dumpPages(criu, pid, "skipped", skip);

            assertThat(whole - skipped).as("bytes left out").isEqualTo(bigBytes);
            assertThat(Files.readString(tmp.resolve("skipped/dump.log"))).contains("Skipping the pages of 1 ranges");
        } finally {
            new ProcessBuilder("kill", "-CONT", Integer.toString(pid)).start().waitFor();
        }
    }

    @Test
    void aMalformedRangesFileFailsTheDump() throws Exception {
        Criu criu = CriuTestSupport.assumeCriu();
        assumeTrue(criu.canSkipPages(), () -> criu.binary() + " lacks --skip-pages-in (run scripts/install-criu)");
        service = CriuTestSupport.startCounterService(tmp.resolve("port"));
        CriuTestSupport.awaitPort(tmp.resolve("port"), service, Duration.ofSeconds(30));
        Path skip = tmp.resolve("skip");
        Files.writeString(skip, "1000-1001\n"); // not page-aligned
        Path dir = Files.createDirectories(tmp.resolve("bad"));
        CriuException e = catchThrowableOfType(CriuException.class, () -> criu.dump(DumpOptions.builder((int) service.pid(), dir)
                .leaveRunning(true).tcpMode(TcpMode.CLOSE).skipPagesIn(skip).build()));
        assertThat(e).isNotNull();
        assertThat(e.getMessage()).contains("--skip-pages-in").contains("bad line");
    }

    private static long present(int pid, List<Vma> maps, Vma v) throws Exception {
        long n = 0;
        for (ProcessMemory.RemoteRange r : PresentPages.of(pid, maps, v::equals)) n += r.length();
        return n;
    }

    private long dumpPages(Criu criu, int pid, String name, Path skip) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve(name));
        DumpOptions.Builder b = DumpOptions.builder(pid, dir).leaveRunning(true).tcpMode(TcpMode.CLOSE).logLevel(3);
        if (skip != null) b.skipPagesIn(skip);
        criu.dump(b.build());
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("pages-"))
                    .max(Comparator.comparingLong(p -> p.toFile().length())).orElseThrow().toFile().length();
        }
    }
}
