package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.image.criu.Pagemap.pagemap_entry;
import io.checkpointd.protocol.image.criu.Pagemap.pagemap_head;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

class PagemapTest {
    static final List<String> PAGEMAPS = CriuFixtures.PAGEMAPS;

    @ParameterizedTest
    @FieldSource("PAGEMAPS")
    void rebuiltFromItsRunsIsByteIdentical(String name) throws Exception {
        byte[] file = CriuFixtures.read(name);
        Pagemap pm = Pagemap.parse(file);
        assertThat(pm.encode()).isEqualTo(file);
        assertThat(Pagemap.of(pm.pagesId(), pm.runs()).encode()).isEqualTo(file);
        assertThat(Pagemap.of(pm.pagesId(), pm.runs()).presentPages()).isEqualTo(pm.presentPages());
    }

    @Test
    void writesWhatItReads() throws Exception {
        List<Pagemap.Run> runs = List.of(new Pagemap.Run(0x400000, 3, Pagemap.PE_PRESENT, 0),
                new Pagemap.Run(0x500000, 2, Pagemap.PE_PARENT, -1),
                new Pagemap.Run(0x7ffff000L, 1, Pagemap.PE_PRESENT, 3));
        Pagemap pm = Pagemap.parse(Pagemap.of(7, runs).encode());
        assertThat(pm.pagesId()).isEqualTo(7);
        assertThat(pm.runs()).isEqualTo(runs);
        assertThat(pm.presentPages()).isEqualTo(4);
        assertThatThrownBy(() -> Pagemap.of(1, List.of(new Pagemap.Run(0x400001, 1, Pagemap.PE_PRESENT, 0))))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aPageCountBeyondTheAddressSpaceIsRefused() throws java.io.IOException {
        // a varint of 2^64-1 reads as -1; nr_pages is a u32 in CRIU's pagemap.proto, so 2^32 is beyond any run
        for (long hostile : new long[] {-1L, Long.MIN_VALUE, 1L << 32, Pagemap.MAX_PAGES + 1}) {
            assertThatThrownBy(() -> Pagemap.parse(hostile(new long[] {0x1000, hostile})))
                    .as(Long.toUnsignedString(hostile)).hasMessageContaining("out of range");
        }
        assertThat(Pagemap.parse(hostile(new long[] {0x1000, 0xffffffffL})).presentPages()).isEqualTo(0xffffffffL);
    }

    /** A pagemap of present runs {@code (vaddr, nr_pages)}, encoded without {@link Pagemap#of}'s checks. */
    private static byte[] hostile(long[] runs) {
        List<byte[]> entries = new java.util.ArrayList<>();
        entries.add(pagemap_head.newBuilder().setPagesId(1).build().toByteArray());
        for (int i = 0; i < runs.length; i += 2) {
            entries.add(pagemap_entry.newBuilder().setVaddr(runs[i]).setCompatNrPages(0).setFlags(Pagemap.PE_PRESENT)
                    .setNrPages(runs[i + 1]).build().toByteArray());
        }
        return ImageFile.of(Pagemap.PAGEMAP_MAGIC, entries).encode();
    }
}
