package io.checkpointd.protocol.image;

import static io.checkpointd.protocol.image.XsaveLayout.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class XsaveLayoutTest {
    @Test
    void amdWithoutAvx512() {
        XsaveLayout l = XsaveLayout.infer(0x207, 2440);
        assertThat(l.offset(XFEATURE_YMM)).isEqualTo(576);
        assertThat(l.offset(XFEATURE_PKRU)).isEqualTo(2432);
        assertThat(l.has(XFEATURE_OPMASK)).isFalse();
    }

    @Test
    void amdZen4WithAvx512() {
        XsaveLayout l = XsaveLayout.infer(0x2e7, 2440);
        assertThat(l.offset(XFEATURE_OPMASK)).isEqualTo(832);
        assertThat(l.offset(XFEATURE_ZMM_HI256)).isEqualTo(896);
        assertThat(l.offset(XFEATURE_HI16_ZMM)).isEqualTo(1408);
        assertThat(l.offset(XFEATURE_PKRU)).isEqualTo(2432);
    }

    @Test
    void intelKeepsTheMpxHole() {
        XsaveLayout l = XsaveLayout.infer(0x2e7, 2696);
        assertThat(l.offset(XFEATURE_OPMASK)).isEqualTo(1088);
        assertThat(l.offset(XFEATURE_ZMM_HI256)).isEqualTo(1152);
        assertThat(l.offset(XFEATURE_HI16_ZMM)).isEqualTo(1664);
        assertThat(l.offset(XFEATURE_PKRU)).isEqualTo(2688);
        assertThat(XsaveLayout.infer(0x2ff, 2696).offset(XFEATURE_BNDCSR)).isEqualTo(1024);
        // Sapphire Rapids: XCR0 enables AMX tile config and data, the regset spans both
        assertThat(XsaveLayout.infer(0x602e7, 11008).offset(XFEATURE_PKRU)).isEqualTo(2688);
        assertThat(XsaveLayout.infer(0x7, 832).offset(XFEATURE_YMM)).isEqualTo(576);
    }

    @Test
    void rejectsWhatNoKnownLayoutExplains() {
        assertThatThrownBy(() -> XsaveLayout.infer(0x207, 2500)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> XsaveLayout.infer(0x80207, 3000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> XsaveLayout.infer(0x205, 2440)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readsTheKernelsXcr0WordAndTheRegsetLength() {
        byte[] buf = new byte[2440];
        XsaveLayout.infer(0x207, 2440).writeXcr0(buf);
        assertThat(XsaveLayout.fromRegset(buf).offset(XFEATURE_PKRU)).isEqualTo(2432);
        assertThatThrownBy(() -> XsaveLayout.fromRegset(new byte[2440])).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> XsaveLayout.fromRegset(java.util.Arrays.copyOf(buf, 1000)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
