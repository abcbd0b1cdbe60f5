package io.checkpointd.primary.engine.patch;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.criu.Timens.timens_entry;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** {@link TimensPatch} on a {@code timens-0.img} CRIU 4.2.1 wrote (monotonic 3157.208321127 s, boot time 3157.208321177 s). */
class TimensPatchTest {
    private static final byte[] CRIU = HexFormat.of().parseHex("1943565433441143140000000a0808d51810e7f4aa63120808d5181099f5aa63");

    @Test
    void theEpochsInstantReplacesTheBaseDumps() throws Exception {
        timens_entry before = ImageFile.parse(CRIU, TimensPatch.TIMENS_MAGIC).message(0, timens_entry.parser());
        assertThat(before.getMonotonic().getTvSec()).isEqualTo(3157);
        assertThat(before.getMonotonic().getTvNsec()).isEqualTo(208_321_127);

        Map<String, byte[]> files = new TreeMap<>(Map.of("timens-0.img", CRIU, "core-1.img", new byte[] {1}));
        long mono = 9_876_543_210_123L;
        TimensPatch.patch(files, mono);
        timens_entry after = ImageFile.parse(files.get("timens-0.img"), TimensPatch.TIMENS_MAGIC).message(0, timens_entry.parser());
        assertThat(after.getMonotonic().getTvSec()).isEqualTo(9876);
        assertThat(after.getMonotonic().getTvNsec()).isEqualTo(543_210_123);
        long boot = after.getBoottime().getTvSec() * 1_000_000_000L + after.getBoottime().getTvNsec();
        assertThat(boot).as("boot time: monotonic plus the time suspended").isGreaterThanOrEqualTo(mono).isLessThan(mono + 86_400_000_000_000L);
        assertThat(files.get("core-1.img")).containsExactly(1);
    }
}
