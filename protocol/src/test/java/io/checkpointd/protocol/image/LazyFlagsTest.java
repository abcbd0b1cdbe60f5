package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * {@link LazyFlags} on hand-made VMAs: which mappings CRIU's {@code vma_entry_can_be_lazy()} accepts, the page of a
 * thread's stack pointer kept eager, and {@code PE_PARENT} pages flagged only when the CRIU serves them. The
 * comparison with CRIU's own dump is {@code LazyFlagsFidelityTest} (module tests).
 */
class LazyFlagsTest {
    private static final long P = Pagemap.PAGE_SIZE;
    private static final long ANON = LazyFlags.MAP_PRIVATE | LazyFlags.MAP_ANONYMOUS;
    private static final long REGULAR = MmImage.VMA_AREA_REGULAR, ANON_PRIVATE = MmImage.VMA_ANON_PRIVATE, FILE_PRIVATE = MmImage.VMA_FILE_PRIVATE;

    private static MmImage.Vma vma(long start, long pages, long flags, long status) {
        return new MmImage.Vma(start, start + pages * P, 0, 0, 3, flags, status, -1, OptionalLong.empty(), OptionalLong.empty());
    }

    @Test
    void onlyPrivateAnonymousMappingsThatAreNotLockedHugeOrSpecialAreLazy() {
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, ANON, REGULAR | ANON_PRIVATE))).isTrue();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, LazyFlags.MAP_PRIVATE, REGULAR | FILE_PRIVATE))).as("file-backed").isFalse();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, LazyFlags.MAP_ANONYMOUS | 0x01, REGULAR))).as("shared").isFalse();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, ANON | LazyFlags.MAP_LOCKED, REGULAR | ANON_PRIVATE))).as("locked").isFalse();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, ANON | LazyFlags.MAP_HUGETLB, REGULAR | ANON_PRIVATE))).as("hugetlb").isFalse();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, ANON, REGULAR | ANON_PRIVATE | MmImage.VMA_AREA_VDSO))).as("vdso").isFalse();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, ANON, REGULAR | ANON_PRIVATE | MmImage.VMA_AREA_VVAR))).as("vvar").isFalse();
        assertThat(LazyFlags.canBeLazy(vma(0x1000, 1, ANON, REGULAR | MmImage.VMA_AREA_VSYSCALL))).as("vsyscall").isFalse();
    }

    @Test
    void runsAreSplitAtMappingsAndStackPagesAndParentPagesOnlyWhenServed() {
        long heap = 0x10000000L, file = heap + 8 * P;
        List<MmImage.Vma> vmas = List.of(vma(file, 4, LazyFlags.MAP_PRIVATE, REGULAR | FILE_PRIVATE), vma(heap, 8, ANON, REGULAR | ANON_PRIVATE));
        int present = Pagemap.PE_PRESENT, parent = Pagemap.PE_PARENT;
        // one present run over 6 heap pages + 2 file pages (an old PE_LAZY on the file pages must go), then a parent run
        List<Pagemap.Run> in = List.of(new Pagemap.Run(heap + 2 * P, 8, present | Pagemap.PE_LAZY, 0), new Pagemap.Run(file + 2 * P, 2, parent, -1),
                new Pagemap.Run(heap, 2, parent, -1));
        long sp = heap + 4 * P + 0x123;
        long[] counts = new long[2];
        List<Pagemap.Run> out = LazyFlags.flag(in, vmas, List.of(sp, sp + 8), false, counts);
        assertThat(out).containsExactly(
                new Pagemap.Run(heap + 2 * P, 2, present | Pagemap.PE_LAZY, -1),
                new Pagemap.Run(heap + 4 * P, 1, present, -1), // a thread's stack pointer is in it
                new Pagemap.Run(heap + 5 * P, 3, present | Pagemap.PE_LAZY, -1),
                new Pagemap.Run(file, 2, present, -1),
                new Pagemap.Run(file + 2 * P, 2, parent, -1),
                new Pagemap.Run(heap, 2, parent, -1));
        assertThat(counts).containsExactly(5, 0);

        counts = new long[2];
        out = LazyFlags.flag(in, vmas, List.of(sp), true, counts);
        assertThat(out.get(out.size() - 1)).as("a heap run in the parent, served lazily").isEqualTo(new Pagemap.Run(heap, 2, parent | Pagemap.PE_LAZY, -1));
        assertThat(out.get(out.size() - 2)).as("file pages in the parent stay eager").isEqualTo(new Pagemap.Run(file + 2 * P, 2, parent, -1));
        assertThat(counts).containsExactly(7, 2);
    }

    @Test
    void aLazyRunOfAWholeLargeHeapIsSplitIntoRunsCriusDaemonCanBuffer() {
        // a 4 GiB heap whose pages are all in the parent, one entry: CRIU's daemon would size its buffer from it in an int
        long heap = 0x700000000L, pages = (4L << 30) / P;
        long[] counts = new long[2];
        List<Pagemap.Run> out = LazyFlags.flag(List.of(new Pagemap.Run(heap, pages, Pagemap.PE_PARENT, -1)),
                List.of(vma(heap, pages, ANON, REGULAR | ANON_PRIVATE)), List.of(), true, counts);
        assertThat(out).hasSize((int) (pages / LazyFlags.MAX_LAZY_RUN_PAGES));
        long at = heap;
        for (Pagemap.Run r : out) {
            assertThat(r.vaddr()).isEqualTo(at);
            assertThat(r.nrPages()).isEqualTo(LazyFlags.MAX_LAZY_RUN_PAGES);
            assertThat(r.flags()).isEqualTo(Pagemap.PE_PARENT | Pagemap.PE_LAZY);
            at += r.nrPages() * P;
        }
        assertThat(counts).containsExactly(pages, pages);
    }

    @Test
    void pagesOutsideEveryMappingAreNotLazy() {
        long[] counts = new long[2];
        List<Pagemap.Run> out = LazyFlags.flag(List.of(new Pagemap.Run(0x5000, 3, Pagemap.PE_PRESENT | Pagemap.PE_LAZY, 0)),
                List.of(vma(0x6000, 1, ANON, REGULAR | ANON_PRIVATE)), List.of(), false, counts);
        assertThat(out).containsExactly(new Pagemap.Run(0x5000, 1, Pagemap.PE_PRESENT, -1), new Pagemap.Run(0x6000, 1, Pagemap.PE_PRESENT | Pagemap.PE_LAZY, -1),
                new Pagemap.Run(0x7000, 1, Pagemap.PE_PRESENT, -1));
    }
}
