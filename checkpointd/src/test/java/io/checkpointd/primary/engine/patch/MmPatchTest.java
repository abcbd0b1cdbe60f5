package io.checkpointd.primary.engine.patch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.linux.proc.Vma;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.criu.Mm.mm_entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/** The memory map image rebuilt for anonymous mappings and the brk heap, against a base laid out as CRIU writes it. */
class MmPatchTest {
    private static final long ANON = 0x201, HEAP = 0x221, FILE_PRIVATE = 0x41, START_BRK = 0x5610fd0ca000L;
    private static final MmImage.Vma LIB = vma(0x7f0000000000L, 0x7f0000010000L, 5, 0x2, FILE_PRIVATE);
    private static final MmImage.Vma ARENA = vma(0x7e0000000000L, 0x7e0000100000L, 3, 0x22, ANON);
    private static final Vma LIB_MAP = new Vma(LIB.start(), LIB.end(), "r-xp", 0, "08:01", 42, "/usr/lib/libc.so.6");
    private static final Vma ARENA_MAP = new Vma(ARENA.start(), ARENA.end(), "rw-p", 0, "00:00", 0, "");

    private static MmImage.Vma vma(long start, long end, long prot, long flags, long status) {
        return new MmImage.Vma(start, end, 0, 0, prot, flags, status, -1, OptionalLong.empty(), OptionalLong.empty());
    }

    /** An mm image with {@code mm_start_brk}, {@code mm_brk} and these VMAs. */
    private static MmImage base(long brk, List<MmImage.Vma> vmas) throws IOException {
        mm_entry mm = mm_entry.newBuilder().setMmStartCode(0x5610fc000000L).setMmEndCode(0).setMmStartData(0).setMmEndData(0)
                .setMmStartStack(0).setMmStartBrk(START_BRK).setMmBrk(brk).setMmArgStart(0).setMmArgEnd(0).setMmEnvStart(0)
                .setMmEnvEnd(0).setExeFileId(0).build();
        byte[] image = ImageFile.of(ImageFile.MM_MAGIC, List.of(mm.toByteArray())).encode();
        return MmImage.parse(MmImage.parse(image).withVmas(vmas).encode());
    }

    private static Vma heap(long start, long end) {
        return new Vma(start, end, "rw-p", 0, "00:00", 0, "[heap]");
    }

    @Test
    void aHeapBornSinceTheBaseGetsCriusHeapEntryAndTheBreak() throws Exception {
        MmPatch p = new MmPatch(base(START_BRK, List.of(ARENA, LIB)));
        MmImage out = MmImage.parse(p.patch(List.of(heap(START_BRK, START_BRK + 0x48000), ARENA_MAP, LIB_MAP)));
        assertThat(out.vmas()).containsExactly(vma(START_BRK, START_BRK + 0x48000, 3, 0x22, HEAP), ARENA, LIB);
        assertThat(out.brk()).as("mm_brk: the heap's end").isEqualTo(START_BRK + 0x48000);
        assertThat(out.startBrk()).isEqualTo(START_BRK);
    }

    @Test
    void aGrownHeapSplitInTwoKeepsItsEntryAndMovesTheBreak() throws Exception {
        MmImage.Vma baseHeap = new MmImage.Vma(START_BRK, START_BRK + 0x48000, 0, 0, 3, 0x22, HEAP, -1, OptionalLong.of(1), OptionalLong.empty());
        MmPatch p = new MmPatch(base(START_BRK + 0x47a10, List.of(baseHeap, ARENA, LIB)));
        // unchanged: the exact break CRIU read stays
        assertThat(MmImage.parse(p.patch(List.of(heap(START_BRK, START_BRK + 0x48000), ARENA_MAP, LIB_MAP))).brk()).isEqualTo(START_BRK + 0x47a10);
        // grown (the kernel shows the part not registered with userfaultfd as a VMA of its own)
        MmImage out = MmImage.parse(p.patch(List.of(heap(START_BRK, START_BRK + 0x48000), heap(START_BRK + 0x48000, START_BRK + 0x6e000),
                ARENA_MAP, LIB_MAP)));
        List<MmImage.Vma> expected = new ArrayList<>(List.of(baseHeap,
                new MmImage.Vma(START_BRK + 0x48000, START_BRK + 0x6e000, 0, 0, 3, 0x22, HEAP, -1, OptionalLong.of(1), OptionalLong.empty()), ARENA, LIB));
        assertThat(out.vmas()).containsExactlyElementsOf(expected);
        assertThat(out.brk()).isEqualTo(START_BRK + 0x6e000);
        // shrunk to nothing: the break back at its start
        assertThat(MmImage.parse(p.patch(List.of(ARENA_MAP, LIB_MAP))).brk()).isEqualTo(START_BRK);
    }

    @Test
    void anonymousMappingsComeAndGoAFileMappingMustBeTheBases() throws Exception {
        MmPatch p = new MmPatch(base(START_BRK, List.of(ARENA, LIB)));
        Vma buffer = new Vma(0x7e1000000000L, 0x7e1000004000L, "r--p", 0, "00:00", 0, "");
        MmImage out = MmImage.parse(p.patch(List.of(buffer, LIB_MAP)));
        assertThat(out.vmas()).containsExactly(vma(buffer.start(), buffer.end(), 1, 0x22, ANON), LIB);
        assertThat(out.brk()).isEqualTo(START_BRK);
        Vma other = new Vma(0x7f2000000000L, 0x7f2000001000L, "r--p", 0, "08:01", 43, "/etc/hosts");
        assertThatThrownBy(() -> p.patch(List.of(ARENA_MAP, LIB_MAP, other))).isInstanceOf(IOException.class).hasMessageContaining("no base VMA");
    }
}
