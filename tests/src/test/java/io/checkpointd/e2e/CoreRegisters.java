package io.checkpointd.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A thread's registers, signal mask and other per-thread fields from a CRIU {@code core-TID.img}, decoded by the
 * test itself (a protobuf reader of its own, field numbers from CRIU's images/core.proto and core-x86.proto), not
 * by the project's image codec: {@code thread_info.gpregs} (user_x86_regs_entry), {@code thread_info.fpregs}
 * (user_x86_fpregs_entry, with its xsave entry: YMM, AVX-512, PKRU, CET...), {@code clear_tid_addr} and the TLS
 * entries, the blocked-signal sets of {@code tc} and {@code thread_core}, and the rest of {@code thread_core}.
 * Every field is kept as a list of its values in order (repeated fields have many), by a readable path.
 */
final class CoreRegisters {
    private static final int COMMON_MAGIC = 0x54564319, CORE_MAGIC = 0x55053847;
    private static final String[] GP = {"r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
            "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs", "mode"};
    private static final String[] FP = {"cwd", "swd", "twd", "fop", "rip", "rdp", "mxcsr", "mxcsr_mask", "st_space",
            "xmm_space", "padding", "12", "xsave"};
    private static final String[] XSAVE = {"xstate_bv", "ymmh_space", "bndreg_state", "bndcsr_state", "opmask_reg",
            "zmm_upper", "hi16_zmm", "pkru", "cet"};
    /** core_entry paths (field numbers) that hold a nested message. */
    private static final Set<String> MESSAGES = Set.of("2", "2.2", "2.3", "2.3.13", "2.3.13.9", "2.4", "3", "5", "5.7", "5.9",
            "5.10", "5.15");
    /**
     * What is compared: path prefix -> name. Besides registers and masks, every per-thread field CRIU 4.2.1's
     * dump_thread_core() and its helpers write (thread_info.clear_tid_addr and tls, thread_core's robust list,
     * scheduling, sigaltstack, pdeath signal, pending signals, creds, seccomp, comm, rseq, cgroup set).
     */
    private static final Map<String, String> KEPT = Map.ofEntries(Map.entry("2.2.", "gpregs."), Map.entry("2.3.", "fpregs."),
            Map.entry("3.5", "tc.blk_sigset"), Map.entry("3.20", "tc.blk_sigset_extended"), Map.entry("5.6", "thread_core.blk_sigset"),
            Map.entry("5.14", "thread_core.blk_sigset_extended"), Map.entry("2.1", "thread_info.clear_tid_addr"),
            Map.entry("2.4.", "thread_info.tls."), Map.entry("5.1", "thread_core.futex_rla"), Map.entry("5.2", "thread_core.futex_rla_len"),
            Map.entry("5.3", "thread_core.sched_nice"), Map.entry("5.4", "thread_core.sched_policy"),
            Map.entry("5.5", "thread_core.sched_prio"), Map.entry("5.7.", "thread_core.sas."), Map.entry("5.8", "thread_core.pdeath_sig"),
            Map.entry("5.9.", "thread_core.signals_p."), Map.entry("5.10.", "thread_core.creds."),
            Map.entry("5.11", "thread_core.seccomp_mode"), Map.entry("5.12", "thread_core.seccomp_filter"),
            Map.entry("5.13", "thread_core.comm"), Map.entry("5.15.", "thread_core.rseq."), Map.entry("5.16", "thread_core.cg_set"));

    private CoreRegisters() {
    }

    /** Readable path -> values of the registers and signal masks in {@code coreImage}. */
    static Map<String, List<String>> read(Path coreImage) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(coreImage)).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt() != COMMON_MAGIC || b.getInt() != CORE_MAGIC) throw new IOException(coreImage + " is not a CRIU core image");
        int size = b.getInt();
        if (size != b.remaining()) throw new IOException(coreImage + ": one core_entry of " + size + " bytes expected, " + b.remaining() + " there");
        Map<String, List<String>> all = new TreeMap<>();
        decode(b, "", all);
        Map<String, List<String>> kept = new TreeMap<>();
        for (var e : all.entrySet()) {
            for (var k : KEPT.entrySet()) {
                String p = e.getKey();
                if (k.getKey().endsWith(".") ? p.startsWith(k.getKey()) : p.equals(k.getKey())) kept.put(name(p, k), e.getValue());
            }
        }
        if (kept.keySet().stream().noneMatch(k -> k.startsWith("gpregs."))) throw new IOException(coreImage + " has no gpregs");
        return kept;
    }

    /** The fields whose values differ between {@code a} and {@code b} (or are in one only), one line each. */
    static List<String> differences(Map<String, List<String>> a, Map<String, List<String>> b) {
        List<String> out = new ArrayList<>();
        Set<String> keys = new TreeSet<>(a.keySet());
        keys.addAll(b.keySet());
        for (String k : keys) {
            List<String> x = a.getOrDefault(k, List.of()), y = b.getOrDefault(k, List.of());
            if (x.equals(y)) continue;
            int i = 0;
            while (i < Math.min(x.size(), y.size()) && x.get(i).equals(y.get(i))) i++;
            out.add(k + (x.size() > 1 || y.size() > 1 ? "[" + i + "]" : "") + ": " + (i < x.size() ? x.get(i) : "(absent)")
                    + " vs " + (i < y.size() ? y.get(i) : "(absent)") + (x.size() != y.size() ? " (" + x.size() + " vs " + y.size() + " values)" : ""));
        }
        return out;
    }

    private static String name(String path, Map.Entry<String, String> kept) {
        if (!kept.getKey().endsWith(".")) return kept.getValue();
        String[] rest = path.substring(kept.getKey().length()).split("\\.");
        if (!kept.getValue().equals("gpregs.") && !kept.getValue().equals("fpregs.")) return kept.getValue() + String.join(".", rest);
        String[] names = kept.getValue().equals("gpregs.") ? GP : FP;
        StringBuilder s = new StringBuilder(kept.getValue()).append(label(names, rest[0]));
        if (rest.length > 1) s.append('.').append(label(XSAVE, rest[1]));
        for (int i = 2; i < rest.length; i++) s.append('.').append(rest[i]);
        return s.toString();
    }

    private static String label(String[] names, String number) {
        int n = Integer.parseInt(number);
        return n >= 1 && n <= names.length ? names[n - 1] : number;
    }

    private static void decode(ByteBuffer b, String prefix, Map<String, List<String>> out) throws IOException {
        while (b.hasRemaining()) {
            long key = varint(b);
            int wire = (int) (key & 7);
            String path = prefix + (key >>> 3);
            switch (wire) {
                case 0 -> add(out, path, Long.toHexString(varint(b)));
                case 1, 5 -> {
                    byte[] v = new byte[wire == 1 ? 8 : 4];
                    b.get(v);
                    add(out, path, HexFormat.of().formatHex(v));
                }
                case 2 -> {
                    int n = (int) varint(b);
                    ByteBuffer sub = b.slice(b.position(), n).order(ByteOrder.LITTLE_ENDIAN);
                    b.position(b.position() + n);
                    if (MESSAGES.contains(path)) {
                        decode(sub, path + ".", out);
                    } else {
                        byte[] v = new byte[n];
                        sub.get(v);
                        add(out, path, HexFormat.of().formatHex(v));
                    }
                }
                default -> throw new IOException("protobuf wire type " + wire + " at " + path);
            }
        }
    }

    private static void add(Map<String, List<String>> out, String path, String value) {
        out.computeIfAbsent(path, k -> new ArrayList<>()).add(value);
    }

    private static long varint(ByteBuffer b) throws IOException {
        long v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            int x = b.get() & 0xff;
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) return v;
        }
        throw new IOException("varint too long");
    }
}
