package io.checkpointd.primary.engine.dump;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.ProcessMemory.RemoteRange;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.linux.track.DirtyTracker;
import io.checkpointd.protocol.image.Pagemap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which pre-copied pages CRIU may leave out, and the merge of the rest of them into CRIU's dump. */
class PreCopiedPagesTest {
    private static final int PAGE = 4096;

    @TempDir
    Path tmp;

    @Test
    void onlyPagesNeitherWrittenNorRemovedInFollowedRangesAreSkipped() throws Exception {
        Vma a = anon(0x10000, 0x14000), b = anon(0x20000, 0x22000), c = anon(0x40000, 0x41000), d = anon(0x50000, 0x52000);
        PreCopiedPages copy = new PreCopiedPages(tmp.resolve("copy"), new long[] {0x10000, 0x14000, 0x20000, 0x22000, 0x40000, 0x41000,
                0x50000, 0x52000}, Set.of(a, b, c, d));
        long[] written = {0x12000, 0x13000};
        DirtyTracker.Followed followed = new DirtyTracker.Followed(
                // 0x40000 was unmapped and mapped again: not followed
                List.of(new RemoteRange(0x10000, 0x20000), new RemoteRange(0x50000, 0x2000)),
                List.of(new RemoteRange(0x21000, PAGE)));
        // 0x50000's VMA was made read-only since the copy: not skipped either
        List<Vma> now = List.of(a, b, c, new Vma(0x50000, 0x52000, "r--p", 0, "00:00", 0, ""));
        assertThat(copy.skippable(written, followed, now)).containsExactly(0x10000, 0x12000, 0x13000, 0x14000, 0x20000, 0x21000);
        assertThat(copy.skippable(written, null, now)).as("a tracker that does not follow removals").isEmpty();
    }

    @Test
    void mergedImageHasCriusPagesAndTheSkippedOnesInAddressOrder() throws Exception {
        // copied: 0x10000..0x14000 (4 pages), 0x20000..0x22000 (2 pages); byte value = 'a' + page index in the copy
        long[] copied = {0x10000, 0x14000, 0x20000, 0x22000};
        Files.write(tmp.resolve("copy"), pages('a', 6));
        PreCopiedPages copy = new PreCopiedPages(tmp.resolve("copy"), copied, Set.of());
        // CRIU dumped 0x12000 (written during the copy) and 0x30000; its pages 'X', 'Y'
        Pagemap criu = Pagemap.of(1, List.of(new Pagemap.Run(0x12000, 1, Pagemap.PE_PRESENT, 0),
                new Pagemap.Run(0x30000, 1, Pagemap.PE_PRESENT, 0)));
        Path dir = Files.createDirectories(tmp.resolve("dump"));
        byte[] criuPages = new byte[2 * PAGE];
        Arrays.fill(criuPages, 0, PAGE, (byte) 'X');
        Arrays.fill(criuPages, PAGE, 2 * PAGE, (byte) 'Y');
        Files.write(dir.resolve("pages-1.img"), criuPages);
        long[] skipped = {0x10000, 0x12000, 0x13000, 0x14000, 0x20000, 0x22000};

        Pagemap merged = Pagemap.parse(copy.mergeInto(dir, criu, skipped));

        assertThat(merged.runs()).extracting(Pagemap.Run::vaddr, Pagemap.Run::nrPages)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(0x10000L, 4L), org.assertj.core.groups.Tuple.tuple(0x20000L, 2L),
                        org.assertj.core.groups.Tuple.tuple(0x30000L, 1L));
        byte[] data = Files.readAllBytes(dir.resolve("pages-1.img"));
        assertThat(data.length).isEqualTo(7 * PAGE);
        StringBuilder firsts = new StringBuilder();
        for (int i = 0; i < 7; i++) {
            for (int j = 1; j < PAGE; j++) assertThat(data[i * PAGE + j]).isEqualTo(data[i * PAGE]);
            firsts.append((char) data[i * PAGE]);
        }
        // 0x10000 a, 0x11000 b, 0x12000 CRIU's X, 0x13000 d, 0x20000 e, 0x21000 f, 0x30000 Y
        assertThat(firsts.toString()).isEqualTo("abXdefY");
    }

    @Test
    void overlappingVmasOfMapsReadWhileRunningAreCopiedOnceEach() throws Exception {
        // the maps show the 16 pages as two VMAs that overlap by 4 pages
        OwnPages own = new OwnPages();
        long s = own.start;
        List<Vma> maps = List.of(anon(s, s + 12 * PAGE), anon(s + 8 * PAGE, s + 16 * PAGE));
        int pid = (int) ProcessHandle.current().pid();
        try (PreCopiedPages copy = PreCopiedPages.copy(pid, maps, tmp.resolve("own"))) {
            assertThat(copy.ranges()).containsExactly(s, s + 16 * PAGE);
            byte[] file = Files.readAllBytes(tmp.resolve("own"));
            assertThat(file.length).as("each page once").isEqualTo(16 * PAGE);
            for (int i = 0; i < 16; i++) assertThat(file[i * PAGE]).as("page %d", i).isEqualTo((byte) ('a' + i));
        }
        java.lang.ref.Reference.reachabilityFence(own);
    }

    @Test
    void pagesWrittenDuringTheCopyAreCopiedAgainIntoTheirSlots() throws Exception {
        // two copied ranges of this process, 4 and 8 pages, with an uncopied gap of 4 pages between them
        OwnPages own = new OwnPages();
        long s = own.start;
        List<Vma> maps = List.of(anon(s, s + 4 * PAGE), anon(s + 8 * PAGE, s + 16 * PAGE));
        int pid = (int) ProcessHandle.current().pid();
        try (PreCopiedPages copy = PreCopiedPages.copy(pid, maps, tmp.resolve("own"))) {
            // written meanwhile: page 1, pages 5 (not copied) to 9, page 15
            for (int i : new int[] {1, 5, 8, 9, 15}) own.fill(i, (byte) ('A' + i));
            long again = copy.recopy(pid, List.of(new RemoteRange(s + PAGE, PAGE), new RemoteRange(s + 5 * PAGE, 5 * PAGE),
                    new RemoteRange(s + 15 * PAGE, PAGE)));
            assertThat(again).as("pages 1, 8, 9 and 15: the copied ones among those written").isEqualTo(4L * PAGE);
            byte[] file = Files.readAllBytes(tmp.resolve("own"));
            assertThat(file.length).isEqualTo(12 * PAGE);
            StringBuilder firsts = new StringBuilder();
            for (int i = 0; i < 12; i++) {
                for (int j = 1; j < PAGE; j++) assertThat(file[i * PAGE + j]).isEqualTo(file[i * PAGE]);
                firsts.append((char) file[i * PAGE]);
            }
            assertThat(firsts.toString()).isEqualTo("aBcdIJklmnoP");
        }
        java.lang.ref.Reference.reachabilityFence(own);
    }

    /** 16 pages of this process, page i holding 'a' + i. */
    private static final class OwnPages {
        final java.nio.ByteBuffer mem = java.nio.ByteBuffer.allocateDirect(17 * PAGE);
        final int skip;
        final long start;

        OwnPages() {
            long base = com.sun.jna.Pointer.nativeValue(com.sun.jna.Native.getDirectBufferPointer(mem));
            skip = (int) ((PAGE - base % PAGE) % PAGE);
            start = base + skip;
            for (int i = 0; i < 16; i++) fill(i, (byte) ('a' + i));
        }

        void fill(int page, byte value) {
            for (int j = 0; j < PAGE; j++) mem.put(skip + page * PAGE + j, value);
        }
    }

    private static Vma anon(long start, long end) {
        return new Vma(start, end, "rw-p", 0, "00:00", 0, "");
    }

    private static byte[] pages(char first, int n) {
        byte[] b = new byte[n * PAGE];
        for (int i = 0; i < n; i++) Arrays.fill(b, i * PAGE, (i + 1) * PAGE, (byte) (first + i));
        return b;
    }
}
