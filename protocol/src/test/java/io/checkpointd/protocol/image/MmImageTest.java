package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

class MmImageTest {
    static final List<String> MMS = CriuFixtures.MMS;

    @ParameterizedTest
    @FieldSource("MMS")
    void roundTripsByteIdenticalAlsoThroughTheVmaList(String name) throws Exception {
        byte[] file = CriuFixtures.read(name);
        MmImage mm = MmImage.parse(file);
        assertThat(mm.encode()).isEqualTo(file);
        assertThat(mm.vmas()).isNotEmpty();
        assertThat(mm.withVmas(mm.vmas()).encode()).isEqualTo(file);
        for (MmImage.Vma v : mm.vmas()) {
            assertThat(v.fd()).isEqualTo(-1);
            assertThat(v.length() % 4096).isZero();
        }
    }

    @Test
    void replacesTheListAndKeepsTheRest() throws Exception {
        MmImage mm = MmImage.parse(CriuFixtures.read("python/mm-3145.img"));
        List<MmImage.Vma> vmas = new ArrayList<>(mm.vmas());
        MmImage.Vma last = vmas.get(vmas.size() - 2);
        vmas.set(vmas.size() - 2, new MmImage.Vma(last.start(), last.end(), last.pgoff(), last.shmid(), 1, last.flags(),
                last.status(), -1, OptionalLong.empty(), OptionalLong.of(2)));
        vmas.remove(0);
        MmImage changed = MmImage.parse(mm.withVmas(vmas).encode());
        assertThat(changed.vmas()).isEqualTo(vmas);
        assertThat(changed.message().toBuilder().clearVmas().build().toByteArray())
                .isEqualTo(mm.message().toBuilder().clearVmas().build().toByteArray());
        List<MmImage.Vma> overlapping = List.of(vmas.get(1), vmas.get(0));
        assertThatThrownBy(() -> mm.withVmas(overlapping)).isInstanceOf(IllegalArgumentException.class);
    }
}
