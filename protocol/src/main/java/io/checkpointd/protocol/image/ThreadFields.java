package io.checkpointd.protocol.image;

import io.checkpointd.protocol.image.criu.Core.thread_core_entry;
import io.checkpointd.protocol.image.criu.CoreX86.thread_info_x86;
import io.checkpointd.protocol.image.criu.CoreX86.user_desc_t;
import io.checkpointd.protocol.image.criu.Rseq.rseq_entry;
import io.checkpointd.protocol.image.criu.Siginfo.signal_queue_entry;

import java.util.List;

/**
 * The per-thread fields of a CRIU core image other than registers, FPU state and signal mask, as CRIU 4.2.1's
 * {@code dump_thread_core()} (criu/cr-dump.c), {@code dump_sched_info()}, {@code dump_thread_rseq()} and
 * {@code core_put_tls()} fill them: {@code thread_info.clear_tid_addr} and {@code tls}, and {@code thread_core}'s
 * futex robust list, scheduling, comm and rseq entry. {@link CoreImage#withThreadFields} writes them.
 *
 * @param clearTidAddr  {@code set_tid_address} / {@code CLONE_CHILD_CLEARTID} address
 * @param comm          the thread's name (at most 15 bytes)
 * @param schedPolicy   {@code sched_policy} (written always)
 * @param schedPriority {@code sched_prio}, written only for SCHED_FIFO/SCHED_RR; -1 for none
 * @param nice          {@code sched_nice} (sint32)
 * @param futexRla      {@code get_robust_list} head
 * @param futexRlaLen   and length
 * @param rseq          the rseq entry, or null to write none (a kernel without PTRACE_GET_RSEQ_CONFIGURATION)
 * @param tls           the three GDT TLS entries
 */
public record ThreadFields(long clearTidAddr, String comm, int schedPolicy, int schedPriority, int nice, long futexRla,
                           int futexRlaLen, Rseq rseq, List<Tls> tls) {
    /** {@code rseq_entry}; {@code csPointer} null unless the critical section has RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL. */
    public record Rseq(long abiPointer, int abiSize, int signature, Long csPointer) {
    }

    /** {@code user_desc_t} as {@code core_put_tls()} writes it ({@code contents} split in two bits). */
    public record Tls(int entryNumber, int baseAddr, int limit, boolean seg32bit, int contents, boolean readExecOnly,
                      boolean limitInPages, boolean segNotPresent, boolean usable) {
    }

    /** Writes these fields into a core_entry's thread_info and thread_core; signals_p is emptied. */
    void writeTo(thread_info_x86.Builder ti, thread_core_entry.Builder tc) {
        ti.setClearTidAddr(clearTidAddr);
        ti.clearTls();
        for (Tls t : tls) {
            ti.addTls(user_desc_t.newBuilder().setEntryNumber(t.entryNumber()).setBaseAddr(t.baseAddr())
                    .setLimit(t.limit()).setSeg32Bit(t.seg32bit()).setContentsH((t.contents() & 2) != 0)
                    .setContentsL((t.contents() & 1) != 0).setReadExecOnly(t.readExecOnly())
                    .setLimitInPages(t.limitInPages()).setSegNotPresent(t.segNotPresent()).setUsable(t.usable()));
        }
        tc.setFutexRla(futexRla);
        tc.setFutexRlaLen(futexRlaLen);
        tc.setSchedNice(nice);
        tc.setSchedPolicy(schedPolicy);
        if (schedPriority >= 0) tc.setSchedPrio(schedPriority);
        else tc.clearSchedPrio();
        // a thread's pending signals make the epoch a CRIU dump: a core built here has none queued (CRIU writes
        // an empty queue then)
        tc.setSignalsP(signal_queue_entry.getDefaultInstance());
        tc.setComm(comm);
        if (rseq == null) {
            tc.clearRseqEntry();
        } else {
            rseq_entry.Builder r = rseq_entry.newBuilder().setRseqAbiPointer(rseq.abiPointer())
                    .setRseqAbiSize(rseq.abiSize()).setSignature(rseq.signature());
            if (rseq.csPointer() != null) r.setRseqCsPointer(rseq.csPointer());
            tc.setRseqEntry(r);
        }
    }
}
