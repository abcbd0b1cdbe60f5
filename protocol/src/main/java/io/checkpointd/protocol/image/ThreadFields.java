package io.checkpointd.protocol.image;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
    // thread_info_x86
    private static final int TI_CLEAR_TID_ADDR = 1, TI_TLS = 4;
    // thread_core_entry
    private static final int THC_FUTEX_RLA = 1, THC_FUTEX_RLA_LEN = 2, THC_SCHED_NICE = 3, THC_SCHED_POLICY = 4,
            THC_SCHED_PRIO = 5, THC_SIGNALS_P = 9, THC_COMM = 13, THC_RSEQ = 15;
    // rseq_entry
    private static final int RSEQ_ABI_POINTER = 1, RSEQ_ABI_SIZE = 2, RSEQ_SIGNATURE = 3, RSEQ_CS_POINTER = 4;
    // user_desc_t
    private static final int TLS_ENTRY = 1, TLS_BASE = 2, TLS_LIMIT = 3, TLS_SEG32 = 4, TLS_CONTENTS_H = 5, TLS_CONTENTS_L = 6,
            TLS_READ_EXEC_ONLY = 7, TLS_LIMIT_IN_PAGES = 8, TLS_SEG_NOT_PRESENT = 9, TLS_USABLE = 10;

    /** {@code rseq_entry}; {@code csPointer} null unless the critical section has RSEQ_CS_FLAG_NO_RESTART_ON_SIGNAL. */
    public record Rseq(long abiPointer, int abiSize, int signature, Long csPointer) {
    }

    /** {@code user_desc_t} as {@code core_put_tls()} writes it ({@code contents} split in two bits). */
    public record Tls(int entryNumber, int baseAddr, int limit, boolean seg32bit, int contents, boolean readExecOnly,
                      boolean limitInPages, boolean segNotPresent, boolean usable) {
    }

    /** Writes these fields into {@code core} (a core_entry with thread_info and thread_core); signals_p is emptied. */
    void writeTo(ProtoMessage core, int threadInfoField, int threadCoreField) {
        ProtoMessage ti = core.message(threadInfoField);
        ti.setVarint(TI_CLEAR_TID_ADDR, clearTidAddr);
        List<ProtoMessage> descs = new ArrayList<>(tls.size());
        for (Tls t : tls) {
            ProtoMessage d = new ProtoMessage();
            d.setVarint(TLS_ENTRY, t.entryNumber() & 0xffffffffL);
            d.setVarint(TLS_BASE, t.baseAddr() & 0xffffffffL);
            d.setVarint(TLS_LIMIT, t.limit() & 0xffffffffL);
            d.setVarint(TLS_SEG32, t.seg32bit() ? 1 : 0);
            d.setVarint(TLS_CONTENTS_H, (t.contents() & 2) != 0 ? 1 : 0);
            d.setVarint(TLS_CONTENTS_L, (t.contents() & 1) != 0 ? 1 : 0);
            d.setVarint(TLS_READ_EXEC_ONLY, t.readExecOnly() ? 1 : 0);
            d.setVarint(TLS_LIMIT_IN_PAGES, t.limitInPages() ? 1 : 0);
            d.setVarint(TLS_SEG_NOT_PRESENT, t.segNotPresent() ? 1 : 0);
            d.setVarint(TLS_USABLE, t.usable() ? 1 : 0);
            descs.add(d);
        }
        ti.setMessages(TI_TLS, descs);

        ProtoMessage tc = core.messageOrAdd(threadCoreField);
        tc.setVarint(THC_FUTEX_RLA, futexRla);
        tc.setVarint(THC_FUTEX_RLA_LEN, futexRlaLen & 0xffffffffL);
        tc.setVarint(THC_SCHED_NICE, ProtoMessage.zigzag(nice) & 0xffffffffL);
        tc.setVarint(THC_SCHED_POLICY, schedPolicy & 0xffffffffL);
        if (schedPriority >= 0) tc.setVarint(THC_SCHED_PRIO, schedPriority);
        else tc.remove(THC_SCHED_PRIO);
        // a thread's pending signals make the epoch a CRIU dump: a core built here has none queued (CRIU writes
        // an empty queue then)
        tc.remove(THC_SIGNALS_P);
        tc.messageOrAdd(THC_SIGNALS_P);
        tc.setBytes(THC_COMM, comm.getBytes(StandardCharsets.UTF_8));
        if (rseq == null) {
            tc.remove(THC_RSEQ);
        } else {
            tc.remove(THC_RSEQ);
            ProtoMessage r = tc.messageOrAdd(THC_RSEQ);
            r.setVarint(RSEQ_ABI_POINTER, rseq.abiPointer());
            r.setVarint(RSEQ_ABI_SIZE, rseq.abiSize() & 0xffffffffL);
            r.setVarint(RSEQ_SIGNATURE, rseq.signature() & 0xffffffffL);
            if (rseq.csPointer() != null) r.setVarint(RSEQ_CS_POINTER, rseq.csPointer());
        }
    }
}
