package io.checkpointd.primary.engine.patch;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.ProtoMessage;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** {@link TimensPatch} on a {@code timens-0.img} CRIU 4.2.1 wrote (monotonic 3157.208321127 s, boot time 3157.208321177 s). */
class TimensPatchTest {
    private static final byte[] CRIU = HexFormat.of().parseHex("1943565433441143140000000a0808d51810e7f4aa63120808d5181099f5aa63");

    @Test
    void theEpochsInstantReplacesTheBaseDumps() throws Exception {
        ProtoMessage before = ImageFile.parse(CRIU, TimensPatch.TIMENS_MAGIC).message(0);
        assertThat(before.message(1).varint(1)).isEqualTo(3157);
        assertThat(before.message(1).varint(2)).isEqualTo(208_321_127);

        Map<String, byte[]> files = new TreeMap<>(Map.of("timens-0.img", CRIU, "core-1.img", new byte[] {1}));
        long mono = 9_876_543_210_123L;
        TimensPatch.patch(files, mono);
        ProtoMessage after = ImageFile.parse(files.get("timens-0.img"), TimensPatch.TIMENS_MAGIC).message(0);
        assertThat(after.message(1).varint(1)).isEqualTo(9876);
        assertThat(after.message(1).varint(2)).isEqualTo(543_210_123);
        long boot = after.message(2).varint(1) * 1_000_000_000L + after.message(2).varint(2);
        assertThat(boot).as("boot time: monotonic plus the time suspended").isGreaterThanOrEqualTo(mono).isLessThan(mono + 86_400_000_000_000L);
        assertThat(files.get("core-1.img")).containsExactly(1);
    }
}
