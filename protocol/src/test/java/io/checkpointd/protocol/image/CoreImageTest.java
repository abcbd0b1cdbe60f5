package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.image.criu.Core.core_entry;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;
import org.junit.jupiter.api.Test;

class CoreImageTest {
    static final java.util.List<String> CORES = CriuFixtures.CORES;

    @ParameterizedTest
    @FieldSource("CORES")
    void roundTripsByteIdentical(String name) throws Exception {
        byte[] file = CriuFixtures.read(name);
        assertThat(CoreImage.parse(file).encode()).isEqualTo(file);
    }

    @ParameterizedTest
    @FieldSource("CORES")
    void ownStateWrittenBackReproducesCriusBytes(String name) throws Exception {
        byte[] file = CriuFixtures.read(name);
        CoreImage core = CoreImage.parse(file);
        byte[] xstate = core.xstate(CriuFixtures.EPYC);
        assertThat(xstate).hasSize(2440);
        assertThat(XsaveLayout.fromRegset(xstate).offset(XsaveLayout.XFEATURE_PKRU)).isEqualTo(2432);
        assertThat(core.withThreadState(core.gpregs(), xstate, core.blockedSignals()).encode()).isEqualTo(file);
        // any consistent layout inverts to the same image: the mapping does not depend on the offsets chosen
        XsaveLayout other = XsaveLayout.of(0x207, 4096, Map.of(2, 1024, 9, 3000));
        assertThat(core.withThreadState(core.gpregs(), core.xstate(other), other, core.blockedSignals()).encode())
                .isEqualTo(file);
    }

    @Test
    void fixturesHoldWhatCriuWritesOnThisCpu() throws Exception {
        CoreImage leader = CoreImage.parse(CriuFixtures.read("python/core-3145.img"));
        CoreImage thread = CoreImage.parse(CriuFixtures.read("python/core-3195.img"));
        assertThat(leader.isLeader()).isTrue();
        assertThat(thread.isLeader()).isFalse();
        assertThat(leader.hasXsave()).isTrue();
        assertThat(leader.savedXfeatures()).isEqualTo(0x207);
        long[] gp = thread.gpregs();
        assertThat(gp).hasSize(27);
        assertThat(gp[18 - 1]).as("cs").isEqualTo(0x33);
        assertThat(gp[21 - 1]).as("ss").isEqualTo(0x2b);
    }

    @Test
    void newStateLandsInCriusFields() throws Exception {
        for (String name : CriuFixtures.CORES) {
            CoreImage core = CoreImage.parse(CriuFixtures.read(name));
            long[] gp = core.gpregs();
            gp[16] = 0x7f0000001234L;   // ip
            gp[10] = -4;                // ax = -EINTR
            byte[] xs = core.xstate(CriuFixtures.EPYC);
            ByteBuffer b = ByteBuffer.wrap(xs).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(24, 0x1fa0);                   // mxcsr
            b.putLong(160, 0x1122334455667788L);    // xmm0 low
            b.putLong(576 + 8, -2L);                // ymm0 high, upper 64 bits
            b.putInt(2432, 0x55555554);             // pkru
            b.putLong(512, 0x207);                  // xstate_bv
            b.putLong(520, 0xdead);                 // xcomp_bv: not saved by CRIU
            CoreImage patched = CoreImage.parse(core.withThreadState(gp, xs, 0x1234_0000_0001L).encode());
            assertThat(patched.gpregs()).containsExactly(gp);
            assertThat(patched.blockedSignals()).isEqualTo(0x1234_0000_0001L);
            b.putLong(520, 0);
            assertThat(patched.xstate(CriuFixtures.EPYC)).isEqualTo(xs);
            // the sigmask goes to tc for the leader, to thread_core otherwise, and nowhere else
            core_entry m = patched.message();
            if (core.isLeader()) {
                assertThat(m.getTc().getBlkSigset()).isEqualTo(0x1234_0000_0001L);
                assertThat(m.getThreadCore().hasBlkSigset()).isFalse();
            } else {
                assertThat(m.getThreadCore().getBlkSigset()).isEqualTo(0x1234_0000_0001L);
            }
        }
    }

    @Test
    void failsLoudlyOnLayoutsItCannotMap() throws Exception {
        CoreImage core = CoreImage.parse(CriuFixtures.read("sleep/core-968.img"));
        long[] gp = core.gpregs();
        byte[] xs = core.xstate(CriuFixtures.EPYC);
        // no PKRU in the buffer's features but PKRU in the image: dumped on another CPU
        XsaveLayout noPkru = XsaveLayout.infer(0x7, 832);
        assertThatThrownBy(() -> core.withThreadState(gp, core.xstate(noPkru), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("xfeature 9");
        // AVX-512 enabled, but the image holds none
        XsaveLayout avx512 = XsaveLayout.infer(0x2e7, 2440);
        assertThatThrownBy(() -> core.withThreadState(gp, xs, avx512, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("xfeature 5");
        // a buffer without the kernel's XCR0 word (e.g. its legacy area replaced by GETFPREGS)
        byte[] bare = xs.clone();
        bare[464] = 0;
        assertThatThrownBy(() -> core.withThreadState(gp, bare, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> core.withThreadState(gp, java.util.Arrays.copyOf(xs, 2000), 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> core.withThreadState(gp, java.util.Arrays.copyOf(xs, 2000), CriuFixtures.EPYC, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> core.withThreadState(new long[26], xs, 0)).isInstanceOf(IllegalArgumentException.class);
        // a thread with an enabled shadow stack: its SSP is not captured
        core_entry.Builder m = core.message().toBuilder();
        m.getThreadInfoBuilder().getFpregsBuilder().getXsaveBuilder().getCetBuilder().setCet(1).setSsp(0);
        byte[] shstk = ImageFile.of(ImageFile.CORE_MAGIC, java.util.List.of(m.build().toByteArray())).encode();
        assertThatThrownBy(() -> CoreImage.parse(shstk).withThreadState(gp, xs, 0))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("shadow stack");
    }
}
