package io.checkpointd.primary.engine.state;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.proc.Vma;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StructureTest {
    private static final Vma LIB = new Vma(0x7f0000000000L, 0x7f0000010000L, "r-xp", 0, "08:01", 42, "/usr/lib/libc.so.6");
    private static final Vma DATA = new Vma(0x7f0000010000L, 0x7f0000012000L, "rw-p", 0x10000, "08:01", 42, "/usr/lib/libc.so.6");
    private static final Vma HEAP = new Vma(0x7e0000000000L, 0x7e0040000000L, "rw-p", 0, "00:00", 0, "");
    private static final Vma RESERVED = new Vma(0x7e0040000000L, 0x7e0080000000L, "---p", 0, "00:00", 0, "");

    private static Structure of(List<Vma> maps) {
        return new Structure(List.of(1, 2), Map.of(0, "/dev/null"), maps, "0/0/", "/");
    }

    @Test
    void privateAnonymousMappingsMayChangeAnythingElseIsAStructuralChange() {
        Structure base = of(List.of(HEAP, RESERVED, LIB, DATA));
        assertThat(base.changeTo(of(List.of(HEAP, RESERVED, LIB, DATA)))).isNull();
        assertThat(base.anonymousChanged(of(List.of(HEAP, RESERVED, LIB, DATA)))).isFalse();

        // the heap grew into its reservation, a new anonymous mapping came, one went: handled by the engine
        Vma grown = new Vma(HEAP.start(), HEAP.end() + 0x1000000, "rw-p", 0, "00:00", 0, "");
        Vma rest = new Vma(grown.end(), RESERVED.end(), "---p", 0, "00:00", 0, "");
        Vma buffer = new Vma(0x7f1000000000L, 0x7f1000100000L, "rw-p", 0, "00:00", 0, "");
        assertThat(base.changeTo(of(List.of(grown, rest, LIB, DATA, buffer)))).isNull();
        assertThat(base.changeTo(of(List.of(LIB, DATA)))).isNull();
        assertThat(base.anonymousChanged(of(List.of(grown, rest, LIB, DATA)))).isTrue();

        // the brk heap came, grew (split where userfaultfd registered only its first part) and went: the engine's too
        Vma brk = new Vma(0x5610fd0ca000L, 0x5610fd112000L, "rw-p", 0, "00:00", 0, "[heap]");
        Vma brkMore = new Vma(0x5610fd112000L, 0x5610fd138000L, "rw-p", 0, "00:00", 0, "[heap]");
        assertThat(base.changeTo(of(List.of(brk, HEAP, RESERVED, LIB, DATA)))).isNull();
        assertThat(of(List.of(brk, HEAP, RESERVED, LIB, DATA)).changeTo(of(List.of(brk, brkMore, HEAP, RESERVED, LIB, DATA)))).isNull();
        assertThat(of(List.of(brk, HEAP, RESERVED, LIB, DATA)).changeTo(base)).isNull();
        // the main stack grown: a CRIU dump
        Vma stack = new Vma(0x7ffc00000000L, 0x7ffc00021000L, "rw-p", 0, "00:00", 0, "[stack]");
        Vma grownStack = new Vma(0x7ffbfffff000L, 0x7ffc00021000L, "rw-p", 0, "00:00", 0, "[stack]");
        assertThat(of(List.of(HEAP, LIB, stack)).changeTo(of(List.of(HEAP, LIB, grownStack)))).startsWith("memory map changed");

        // a file mapping changed protection, went, or came (anywhere in the list): a CRIU dump
        Vma dataRo = new Vma(DATA.start(), DATA.end(), "r--p", DATA.offset(), DATA.dev(), DATA.inode(), DATA.path());
        assertThat(base.changeTo(of(List.of(HEAP, RESERVED, LIB, dataRo)))).startsWith("memory map changed");
        assertThat(base.changeTo(of(List.of(HEAP, RESERVED, LIB)))).startsWith("memory map changed");
        List<Vma> more = new ArrayList<>(List.of(HEAP, RESERVED, LIB, DATA));
        more.add(new Vma(0x7f2000000000L, 0x7f2000001000L, "r--p", 0, "08:01", 43, "/etc/hosts"));
        assertThat(base.changeTo(of(more))).startsWith("memory map changed");
        assertThat(of(more).changeTo(base)).startsWith("memory map changed");
        assertThat(base.changeTo(of(List.of(DATA, LIB, HEAP)))).startsWith("memory map changed");
    }
}
