package io.checkpointd.protocol.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.image.criu.Core.thread_core_entry;
import io.checkpointd.protocol.image.criu.CoreX86.user_desc_t;
import io.checkpointd.protocol.image.criu.Rseq.rseq_entry;
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
        thread_core_entry tc = out.threadCore();
        assertThat(tc.getFutexRla()).isEqualTo(0x7000_0000_02e0L);
        assertThat(tc.getFutexRlaLen()).isEqualTo(24);
        assertThat(tc.getSchedNice()).isEqualTo(-5);
        assertThat(tc.getSchedPolicy()).isEqualTo(2);
        assertThat(tc.getSchedPrio()).isEqualTo(10);
        assertThat(tc.getComm()).isEqualTo("churn-worker-7");
        rseq_entry rseq = tc.getRseqEntry();
        assertThat(rseq.getRseqAbiPointer()).isEqualTo(0x7000_0000_0fe0L);
        assertThat(rseq.hasRseqCsPointer()).isTrue();
        assertThat(rseq.getRseqCsPointer()).isZero();
        assertThat(tc.hasSignalsP()).isTrue();
        assertThat(tc.getSignalsP().toByteArray()).isEmpty();
        user_desc_t desc = out.message().getThreadInfo().getTls(1);
        assertThat(new Object[] {desc.getEntryNumber(), desc.getBaseAddr(), desc.getLimit(), desc.getSeg32Bit(), desc.getContentsH(),
                desc.getContentsL(), desc.getReadExecOnly(), desc.getLimitInPages(), desc.getSegNotPresent(), desc.getUsable()})
                .containsExactly(13, 0x1000, 0xfffff, true, true, false, false, true, false, true);
        // what the template held and nobody can read from outside stays: sigaltstack, creds, cg_set
        thread_core_entry before = core.threadCore();
        assertThat(tc.getSas()).isEqualTo(before.getSas());
        assertThat(tc.getCreds()).isEqualTo(before.getCreds());
        assertThat(tc.getCgSet()).isEqualTo(before.getCgSet());
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
        thread_core_entry tc = core.threadCore();
        rseq_entry r = tc.getRseqEntry();
        List<ThreadFields.Tls> tls = new ArrayList<>();
        for (user_desc_t d : core.message().getThreadInfo().getTlsList()) {
            tls.add(new ThreadFields.Tls(d.getEntryNumber(), d.getBaseAddr(), d.getLimit(), d.getSeg32Bit(),
                    (d.getContentsH() ? 2 : 0) + (d.getContentsL() ? 1 : 0), d.getReadExecOnly(), d.getLimitInPages(),
                    d.getSegNotPresent(), d.getUsable()));
        }
        return new ThreadFields(core.clearTidAddr(), tc.getComm(), tc.getSchedPolicy(), tc.hasSchedPrio() ? tc.getSchedPrio() : -1,
                tc.getSchedNice(), tc.getFutexRla(), tc.getFutexRlaLen(), new ThreadFields.Rseq(r.getRseqAbiPointer(),
                r.getRseqAbiSize(), r.getSignature(), r.hasRseqCsPointer() ? r.getRseqCsPointer() : null), tls);
    }
}
