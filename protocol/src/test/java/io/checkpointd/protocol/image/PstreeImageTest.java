package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link PstreeImage} on the {@code pstree.img} CRIU 4.2.1 wrote for a JVM (pid 1477, 23 threads). */
class PstreeImageTest {
    private static final byte[] CRIU = HexFormat.of().parseHex("19435654303027505100000008c50b100018c10b20b7e10128c50b28c70b"
            + "28c80b28c90b28ca0b28cb0b28cc0b28cd0b28ce0b28cf0b28d00b28d10b28d20b28d30b28d40b28d50b28d60b28d70b28d80b28e90b28ea0b28eb0b28ec0b");

    @Test
    void readsAndReplacesAProcesssThreads() throws Exception {
        PstreeImage p = PstreeImage.parse(CRIU);
        List<Integer> tids = p.threads(1477);
        assertThat(tids).hasSize(23).startsWith(1477, 1479).endsWith(1516);
        assertThat(p.withThreads(1477, tids).encode()).as("the same list: CRIU's bytes").isEqualTo(CRIU);

        List<Integer> changed = new ArrayList<>(tids);
        changed.remove(Integer.valueOf(1514)); // ended
        changed.add(2001);                      // born
        byte[] out = p.withThreads(1477, changed).encode();
        assertThat(PstreeImage.parse(out).threads(1477)).isEqualTo(changed);
    }

    @Test
    void anotherProcessIsRefused() throws Exception {
        PstreeImage p = PstreeImage.parse(CRIU);
        assertThatThrownBy(() -> p.withThreads(42, List.of(42))).isInstanceOf(IOException.class).hasMessageContaining("42");
        assertThatThrownBy(() -> p.withThreads(1477, List.of())).isInstanceOf(IllegalArgumentException.class);
    }
}
