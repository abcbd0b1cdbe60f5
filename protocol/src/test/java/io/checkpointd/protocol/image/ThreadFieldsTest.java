package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link ThreadFields} against a real CRIU 4.2 core of a non-leader thread (python's, glibc): writing the fields
 * CRIU wrote gives CRIU's bytes exactly, and other values land where CRIU's proto puts them.
 */
class ThreadFieldsTest {
    private static final String THREAD = "python/core-3195.img";

    @Test
    void theFieldsCriuWroteReproduceItsBytes() throws Exception {
        byte[] criu = CriuFixtures.read(THREAD);
        CoreImage core = CoreImage.parse(criu);
        assertThat(core.withThreadFields(fieldsOf(core)).encode()).isEqualTo(criu);
    }

    @Test
    void glibcsTidIsAtOneOffsetFromTheThreadPointer() throws Exception {
        CoreImage core = CoreImage.parse(CriuFixtures.read(THREAD));
        assertThat(core.clearTidAddr() - core.gpregs()[CoreImage.FS_BASE]).isEqualTo(0x2d0);
    }

    @Test
    void otherValuesAreWrittenWhereCriuReadsThem() throws Exception {
        CoreImage core = CoreImage.parse(CriuFixtures.read(THREAD));
        List<ThreadFields.Tls> tls = new ArrayList<>(fieldsOf(core).tls());
        tls.set(1, new ThreadFields.Tls(13, 0x1000, 0xfffff, true, 2, false, true, false, true));
        ThreadFields f = new ThreadFields(0x7000_0000_02d0L, "churn-worker-7", 2, 10, -5, 0x7000_0000_02e0L, 24,
                new ThreadFields.Rseq(0x7000_0000_0fe0L, 32, 0x53053053, 0L), tls);
        CoreImage out = CoreImage.parse(core.withThreadFields(f).encode());
        assertThat(out.clearTidAddr()).isEqualTo(0x7000_0000_02d0L);
        ProtoMessage tc = out.threadCore();
        assertThat(tc.varint(1)).isEqualTo(0x7000_0000_02e0L);
        assertThat(tc.varint(2)).isEqualTo(24);
        assertThat(ProtoMessage.unzigzag(tc.varint(3))).isEqualTo(-5);
        assertThat(tc.varint(4)).isEqualTo(2);
        assertThat(tc.varint(5)).isEqualTo(10);
        assertThat(new String(tc.bytes(13), StandardCharsets.UTF_8)).isEqualTo("churn-worker-7");
        ProtoMessage rseq = tc.message(15);
        assertThat(rseq.varint(1)).isEqualTo(0x7000_0000_0fe0L);
        assertThat(rseq.varint(4)).isZero();
        assertThat(tc.message(9).fieldNumbers()).isEmpty();
        ProtoMessage desc = out.message().message(2).messages(4).get(1);
        assertThat(new long[] {desc.varint(1), desc.varint(2), desc.varint(3), desc.varint(4), desc.varint(5), desc.varint(6),
                desc.varint(7), desc.varint(8), desc.varint(9), desc.varint(10)}).containsExactly(13, 0x1000, 0xfffff, 1, 1, 0, 0, 1, 0, 1);
        // what the template held and nobody can read from outside stays: sigaltstack, creds, cg_set
        ProtoMessage before = core.threadCore();
        for (int n : new int[] {7, 10}) assertThat(tc.bytes(n)).isEqualTo(before.bytes(n));
        assertThat(tc.varint(16)).isEqualTo(before.varint(16));
    }

    @Test
    void aLeadersCoreIsNoTemplate() throws Exception {
        CoreImage leader = CoreImage.parse(CriuFixtures.read("python/core-3145.img"));
        assertThat(leader.isLeader()).isTrue();
        assertThatThrownBy(() -> leader.withThreadFields(fieldsOf(CoreImage.parse(CriuFixtures.read(THREAD)))))
                .isInstanceOf(IllegalStateException.class);
    }

    /** The fields as CRIU wrote them in {@code core}. */
    private static ThreadFields fieldsOf(CoreImage core) {
        ProtoMessage tc = core.threadCore();
        ProtoMessage r = tc.message(15);
        List<ThreadFields.Tls> tls = new ArrayList<>();
        for (ProtoMessage d : core.message().message(2).messages(4)) {
            tls.add(new ThreadFields.Tls((int) d.varint(1), (int) d.varint(2), (int) d.varint(3), d.varint(4) != 0,
                    (int) (d.varint(5) * 2 + d.varint(6)), d.varint(7) != 0, d.varint(8) != 0, d.varint(9) != 0, d.varint(10) != 0));
        }
        return new ThreadFields(core.clearTidAddr(), new String(tc.bytes(13), StandardCharsets.UTF_8), (int) tc.varint(4),
                tc.has(5) ? (int) tc.varint(5) : -1, (int) ProtoMessage.unzigzag(tc.varint(3)), tc.varint(1), (int) tc.varint(2),
                new ThreadFields.Rseq(r.varint(1), (int) r.varint(2), (int) r.varint(3), r.has(4) ? r.varint(4) : null), tls);
    }
}
