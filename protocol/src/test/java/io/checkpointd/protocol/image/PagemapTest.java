package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
}
