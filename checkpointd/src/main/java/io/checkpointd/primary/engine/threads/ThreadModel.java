package io.checkpointd.primary.engine.threads;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.UnknownFieldSet;
import io.checkpointd.linux.ptrace.ThreadAttributes;
import io.checkpointd.linux.ptrace.ThreadState;
import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.PstreeImage;
import io.checkpointd.protocol.image.ThreadFields;
import io.checkpointd.protocol.image.criu.Core.thread_core_entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the base dump's thread cores teach about a thread the engine builds a core for: a template (a non-leader
 * thread's core) and where glibc keeps the tid the kernel clears at exit.
 *
 * <p>A core holds, per CRIU 4.2.1's {@code dump_thread_core()} and friends (criu/cr-dump.c), and here:
 * <ul>
 *   <li>registers, FPU/XSAVE, blocked signals: read by ptrace ({@link ThreadState});</li>
 *   <li>fs_base (TLS): in the registers; GDT TLS entries, robust futex list, scheduling policy/priority/nice, comm,
 *       rseq registration: read from outside ({@link ThreadAttributes});</li>
 *   <li>{@code clear_tid_addr}: CRIU asks the thread (prctl PR_GET_TID_ADDRESS), which nothing outside can; glibc
 *       sets it to {@code &pthread->tid}, at one offset from the thread pointer (fs_base) in every thread. That
 *       offset is learnt from the base's cores; if they disagree, no offset is trusted;</li>
 *   <li>sigaltstack, pdeath signal, credentials, seccomp mode and filter, cgroup set, extended blocked set: not
 *       readable from outside; taken from the template only when every base thread has the same;</li>
 *   <li>pending signals ({@code signals_p}): none (a thread with any makes the epoch a CRIU dump).</li>
 * </ul>
 * If any of that cannot be had, {@link #why()} says so and a new thread makes the epoch a CRIU dump.
 */
public final class ThreadModel {
    /** thread_core fields copied from the template, which every base thread must agree on. */
    private static final Map<Integer, String> COPIED = Map.of(7, "sigaltstack", 8, "pdeath_sig", 10, "creds", 11, "seccomp_mode",
            12, "seccomp_filter", 14, "blk_sigset_extended", 16, "cg_set");

    private final int pid;
    private final List<Integer> baseThreads;
    private final Map<Integer, CoreImage> baseCores;
    private final CoreImage template;
    private final long clearTidOffset;
    private final String why;

    private ThreadModel(int pid, List<Integer> baseThreads, Map<Integer, CoreImage> baseCores, CoreImage template, long clearTidOffset,
                        String why) {
        this.pid = pid;
        this.baseThreads = baseThreads;
        this.baseCores = baseCores;
        this.template = template;
        this.clearTidOffset = clearTidOffset;
        this.why = why;
    }

    /** Learns from a base dump's files ({@code pstree.img} and the cores of {@code pid}'s threads). */
    public static ThreadModel of(int pid, Map<String, byte[]> files) throws IOException {
        byte[] pstree = files.get("pstree.img");
        if (pstree == null) throw new IOException("no pstree.img in the base dump");
        List<Integer> tids = PstreeImage.parse(pstree).threads(pid);
        Map<Integer, CoreImage> cores = new TreeMap<>();
        for (int tid : tids) {
            byte[] b = files.get("core-" + tid + ".img");
            if (b == null) throw new IOException("no core-" + tid + ".img in the base dump");
            cores.put(tid, CoreImage.parse(b));
        }
        CoreImage template = null;
        TreeSet<Long> offsets = new TreeSet<>();
        byte[] copied = null;
        List<String> differing = new ArrayList<>();
        for (var e : cores.entrySet()) {
            CoreImage c = e.getValue();
            long ctid = c.clearTidAddr(), fs = c.gpregs()[CoreImage.FS_BASE];
            if (c.isLeader()) {
                if (ctid != 0) offsets.add(ctid - fs);
                continue;
            }
            offsets.add(ctid - fs);
            byte[] mine = copiedFields(c);
            if (template == null) {
                template = c;
                copied = mine;
            } else if (!Arrays.equals(copied, mine)) {
                differing.add(difference(template, c));
            }
        }
        String why = null;
        if (template == null) why = "no thread but the leader in the base dump to model a new thread on";
        else if (offsets.size() != 1) why = "clear_tid_addr - fs_base differs between base threads " + hex(offsets);
        else if (!differing.isEmpty()) why = "base threads differ in " + differing.get(0);
        return new ThreadModel(pid, List.copyOf(tids), cores, template, offsets.size() == 1 ? offsets.first() : 0, why);
    }

    /** Why a thread born since the base cannot be captured by the engine, or null. */
    public String why() {
        return why;
    }

    public int pid() {
        return pid;
    }

    /** The base's threads, in pstree order. */
    public List<Integer> baseThreads() {
        return baseThreads;
    }

    /** The offset of {@code clear_tid_addr} from fs_base learnt from the base (valid when {@link #why()} is null). */
    public long clearTidOffset() {
        return clearTidOffset;
    }

    /** The base dump's core of thread {@code tid}, or null. */
    CoreImage baseCore(int tid) {
        return baseCores.get(tid);
    }

    /**
     * The core of {@code t}: its base core (if it is a base thread) or the template, with its registers, FPU
     * state, signal mask and attributes; a born thread's {@code clear_tid_addr} is its fs_base plus the offset.
     */
    CoreImage core(ThreadState t) {
        CoreImage base = t.born() ? null : baseCores.get(t.tid());
        if (base == null && why != null) throw new IllegalStateException("thread " + t.tid() + " cannot be modelled: " + why);
        CoreImage from = base != null ? base : template;
        CoreImage c = from;
        if (t.attributes() != null) {
            long clearTid = base != null ? base.clearTidAddr() : t.gpregs()[CoreImage.FS_BASE] + clearTidOffset;
            if (!(base != null && base.isLeader())) c = c.withThreadFields(fields(t.attributes(), clearTid));
        } else if (base == null) {
            throw new IllegalStateException("thread " + t.tid() + " born without its attributes read");
        }
        return c.withThreadState(t.gpregs(), t.xstate(), t.sigmask());
    }

    static ThreadFields fields(ThreadAttributes a, long clearTid) {
        ThreadFields.Rseq rseq = null;
        if (a.rseq() != null) {
            ThreadAttributes.Rseq r = a.rseq();
            boolean keep = (r.flags() & ThreadAttributes.Rseq.NO_RESTART_ON_SIGNAL) != 0;
            rseq = new ThreadFields.Rseq(r.abiPointer(), r.abiSize(), r.signature(), keep ? r.csPointer() : null);
        }
        List<ThreadFields.Tls> tls = new ArrayList<>(a.tls().size());
        for (ThreadAttributes.TlsEntry e : a.tls()) {
            tls.add(new ThreadFields.Tls(e.entryNumber(), e.baseAddr(), e.limit(), e.seg32bit(), e.contents(), e.readExecOnly(),
                    e.limitInPages(), e.segNotPresent(), e.usable()));
        }
        return new ThreadFields(clearTid, a.comm(), a.schedPolicy(), a.schedPriority(), a.nice(), a.robustHead(), a.robustLen(), rseq, tls);
    }

    /** The template-copied thread_core fields of {@code c}, encoded. */
    private static byte[] copiedFields(CoreImage c) {
        return only(c.threadCore(), COPIED.keySet());
    }

    private static String difference(CoreImage a, CoreImage b) {
        thread_core_entry x = a.threadCore(), y = b.threadCore();
        for (int f : new TreeSet<>(COPIED.keySet())) {
            if (!Arrays.equals(only(x, Set.of(f)), only(y, Set.of(f)))) return COPIED.get(f);
        }
        return "?";
    }

    /** {@code m} with only the fields numbered {@code keep} (unknown ones dropped), encoded; none for null. */
    private static byte[] only(thread_core_entry m, Set<Integer> keep) {
        if (m == null) return new byte[0];
        thread_core_entry.Builder c = m.toBuilder().setUnknownFields(UnknownFieldSet.getDefaultInstance());
        for (FieldDescriptor f : thread_core_entry.getDescriptor().getFields()) {
            if (!keep.contains(f.getNumber())) c.clearField(f);
        }
        return c.buildPartial().toByteArray();
    }

    private static String hex(TreeSet<Long> offsets) {
        return offsets.stream().map(o -> (o < 0 ? "-0x" + Long.toHexString(-o) : "0x" + Long.toHexString(o))).toList().toString();
    }
}
