package io.checkpointd.protocol.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A CRIU {@code core-<tid>.img} of an x86-64 thread (images/core.proto, core-x86.proto; MIT): one
 * {@code core_entry} whose {@code thread_info} holds the registers CRIU restores. The backup patches a base dump's
 * core images with registers the primary captured itself, so that CRIU restores them exactly as if it had dumped
 * that state: {@link #withThreadState} fills the same fields from the same bytes as CRIU 4.2.1's
 * {@code save_task_regs()} (criu/arch/x86/crtools.c) and leaves every other field byte for byte as it was.
 *
 * <p>Immutable. {@code parse(x).encode()} is byte-identical to {@code x}.
 */
public final class CoreImage {
    /** Registers in {@code struct user_regs_struct} order, r15 … gs (= user_x86_regs_entry fields 1..27). */
    public static final int GPREGS_COUNT = 27;
    /** {@code user_x86_regs_mode.NATIVE}. */
    public static final int MODE_NATIVE = 1;
    /** Index of {@code fs_base} (the thread pointer of x86-64 TLS) in {@link #gpregs()}. */
    public static final int FS_BASE = 21;
    /** {@code core_entry.march.X86_64}. */
    public static final int MARCH_X86_64 = 1;

    // core_entry
    private static final int CORE_MTYPE = 1, CORE_THREAD_INFO = 2, CORE_TC = 3, CORE_THREAD_CORE = 5;
    // thread_info_x86
    private static final int TI_CLEAR_TID_ADDR = 1, TI_GPREGS = 2, TI_FPREGS = 3;
    // user_x86_regs_entry
    private static final int GP_MODE = 28;
    // user_x86_fpregs_entry
    private static final int FP_CWD = 1, FP_SWD = 2, FP_TWD = 3, FP_FOP = 4, FP_RIP = 5, FP_RDP = 6, FP_MXCSR = 7,
            FP_MXCSR_MASK = 8, FP_ST_SPACE = 9, FP_XMM_SPACE = 10, FP_XSAVE = 13;
    // user_x86_xsave_entry
    private static final int XS_XSTATE_BV = 1, XS_CET = 9;
    // user_x86_cet_entry
    private static final int CET_CET = 1, CET_SSP = 2;
    // task_core_entry / thread_core_entry
    private static final int TC_BLK_SIGSET = 5, TC_BLK_SIGSET_EXTENDED = 20;
    private static final int THC_BLK_SIGSET = 6, THC_BLK_SIGSET_EXTENDED = 14;

    /** FXSAVE legacy area: offsets of i387 fields CRIU saves, and the sizes of st_space / xmm_space in u32s. */
    private static final int OFF_CWD = 0, OFF_SWD = 2, OFF_TWD = 4, OFF_FOP = 6, OFF_RIP = 8, OFF_RDP = 16,
            OFF_MXCSR = 24, OFF_MXCSR_MASK = 28, OFF_ST_SPACE = 32, OFF_XMM_SPACE = 160;
    private static final int ST_SPACE_U32 = 32, XMM_SPACE_U32 = 64, FXSAVE_SIZE = 512;

    /** An XSAVE component CRIU saves: its user_x86_xsave_entry field, xfeature and element width. */
    private record Component(int field, int feature, int elemBytes) {
        int count() {
            return XsaveLayout.componentSize(feature) / elemBytes;
        }
    }

    /** In save_task_regs() order. */
    private static final List<Component> COMPONENTS = List.of(
            new Component(2, XsaveLayout.XFEATURE_YMM, 4),
            new Component(3, XsaveLayout.XFEATURE_BNDREGS, 8),
            new Component(4, XsaveLayout.XFEATURE_BNDCSR, 8),
            new Component(5, XsaveLayout.XFEATURE_OPMASK, 8),
            new Component(6, XsaveLayout.XFEATURE_ZMM_HI256, 8),
            new Component(7, XsaveLayout.XFEATURE_HI16_ZMM, 8),
            new Component(8, XsaveLayout.XFEATURE_PKRU, 4));

    private final ImageFile file;
    private final ProtoMessage core;

    private CoreImage(ImageFile file, ProtoMessage core) {
        this.file = file;
        this.core = core;
    }

    public static CoreImage parse(byte[] image) throws IOException {
        ImageFile f = ImageFile.parse(image, ImageFile.CORE_MAGIC);
        if (f.entryCount() != 1) throw new IOException("core image with " + f.entryCount() + " entries, expected 1");
        ProtoMessage core = f.message(0);
        try {
            core.varint(CORE_MTYPE);
        } catch (IllegalStateException e) {
            throw new IOException("core image without mtype: " + e.getMessage(), e);
        }
        return new CoreImage(f, core);
    }

    public byte[] encode() {
        return file.withEntries(List.of(core.encode())).encode();
    }

    /** A copy of the whole {@code core_entry}, for fields this class has no accessor for. */
    public ProtoMessage message() {
        return core.copy();
    }

    /** True for a thread-group leader's core (it carries {@code tc}, the task's state). */
    public boolean isLeader() {
        return core.has(CORE_TC);
    }

    /** {@code thread_info.clear_tid_addr}: where the kernel clears the tid and wakes joiners when the thread exits. */
    public long clearTidAddr() {
        return threadInfo().varint(TI_CLEAR_TID_ADDR);
    }

    /** A copy of {@code thread_core} (null for none): the per-thread fields beyond registers. */
    public ProtoMessage threadCore() {
        ProtoMessage tc = core.message(CORE_THREAD_CORE);
        return tc == null ? null : tc.copy();
    }

    /**
     * This core with another thread's {@link ThreadFields} (clear_tid_addr, TLS entries, robust list, scheduling,
     * comm, rseq), the rest as it was: with {@link #withThreadState}, a non-leader thread's core turned into another
     * thread's. Only for a non-leader core (a leader's carries the task's state).
     */
    public CoreImage withThreadFields(ThreadFields f) {
        if (isLeader()) throw new IllegalStateException("a thread-group leader's core is not a template for another thread");
        ProtoMessage out = core.copy();
        if (out.message(CORE_THREAD_INFO) == null) throw new IllegalStateException("core image without x86 thread_info");
        f.writeTo(out, CORE_THREAD_INFO, CORE_THREAD_CORE);
        return new CoreImage(file, out);
    }

    /** The 27 general-purpose registers in {@code struct user_regs_struct} order (r15 … gs). */
    public long[] gpregs() {
        ProtoMessage gp = gpregsMessage();
        long[] r = new long[GPREGS_COUNT];
        for (int i = 0; i < GPREGS_COUNT; i++) r[i] = gp.varint(i + 1);
        return r;
    }

    /**
     * The thread's blocked signal mask as CRIU restores it: {@code tc.blk_sigset} for the leader,
     * {@code thread_core.blk_sigset} for other threads (0 if CRIU did not record one).
     */
    public long blockedSignals() {
        if (isLeader()) return core.message(CORE_TC).varint(TC_BLK_SIGSET);
        ProtoMessage thc = core.message(CORE_THREAD_CORE);
        return thc == null ? 0 : thc.findVarint(THC_BLK_SIGSET).orElse(0);
    }

    /** True if the image carries an XSAVE extension ({@code fpregs.xsave}), i.e. CRIU saw OSXSAVE. */
    public boolean hasXsave() {
        return fpregsMessage().has(FP_XSAVE);
    }

    /**
     * The xfeature bits of the state this image holds: x87 and SSE, plus every XSAVE component CRIU saved
     * (it saves each one the CPU supports, whether in use or not).
     */
    public long savedXfeatures() {
        long bits = (1L << XsaveLayout.XFEATURE_FP) | (1L << XsaveLayout.XFEATURE_SSE);
        ProtoMessage xs = fpregsMessage().message(FP_XSAVE);
        if (xs != null) {
            for (Component c : COMPONENTS) if (xs.has(c.field())) bits |= 1L << c.feature();
        }
        return bits;
    }

    /**
     * The FPU state of this image as a standard XSAVE buffer of {@code layout.size()} bytes: the inverse of
     * {@link #withThreadState}'s mapping. Bytes CRIU does not save (FXSAVE padding, xcomp_bv, the header's reserved
     * words, components this image lacks) are zero; the XCR0 word at 464 is {@code layout}'s, as in a regset read. Two threads' FPU states are equal as CRIU restores them iff these buffers are.
     */
    public byte[] xstate(XsaveLayout layout) {
        ProtoMessage fp = fpregsMessage();
        ProtoMessage xs = fp.message(FP_XSAVE);
        byte[] buf = new byte[xs != null ? layout.size() : FXSAVE_SIZE];
        ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(OFF_CWD, (short) fp.varint(FP_CWD));
        b.putShort(OFF_SWD, (short) fp.varint(FP_SWD));
        b.putShort(OFF_TWD, (short) fp.varint(FP_TWD));
        b.putShort(OFF_FOP, (short) fp.varint(FP_FOP));
        b.putLong(OFF_RIP, fp.varint(FP_RIP));
        b.putLong(OFF_RDP, fp.varint(FP_RDP));
        b.putInt(OFF_MXCSR, (int) fp.varint(FP_MXCSR));
        b.putInt(OFF_MXCSR_MASK, (int) fp.varint(FP_MXCSR_MASK));
        putArray(b, OFF_ST_SPACE, 4, fp.repeatedVarints(FP_ST_SPACE), ST_SPACE_U32, "st_space");
        putArray(b, OFF_XMM_SPACE, 4, fp.repeatedVarints(FP_XMM_SPACE), XMM_SPACE_U32, "xmm_space");
        if (xs == null) return buf;
        layout.writeXcr0(buf);
        b.putLong(XsaveLayout.XSAVE_HEADER_OFFSET, xs.varint(XS_XSTATE_BV));
        for (Component c : COMPONENTS) {
            if (!xs.has(c.field())) continue;
            putArray(b, layout.offset(c.feature()), c.elemBytes(), xs.repeatedVarints(c.field()), c.count(),
                    "xfeature " + c.feature());
        }
        return buf;
    }

    /**
     * This core with another thread state, filled as CRIU 4.2.1 fills it at dump time, with the XSAVE layout read
     * from the buffer (its XCR0 word and length, {@link XsaveLayout#fromRegset}). A buffer whose first 512 bytes
     * were replaced by {@code PTRACE_GETFPREGS} (see below) has lost the XCR0 word: read the layout from the
     * regset's own output (it is the same for every thread of a machine) and pass it explicitly.
     *
     * @see #withThreadState(long[], byte[], XsaveLayout, long)
     */
    public CoreImage withThreadState(long[] gpregs, byte[] xstate, long sigmask) {
        return withThreadState(gpregs, xstate, hasXsave() ? XsaveLayout.fromRegset(xstate) : null, sigmask);
    }

    /**
     * This core with another thread state; every other field keeps its bytes.
     *
     * <ul>
     * <li>{@code gpregs}: 27 values in {@code struct user_regs_struct} order, <b>already adjusted for syscall
     *     restart</b> as {@code compel_get_task_regs()} does (orig_ax ≥ 0 and ax = -ERESTARTSYS/-NOHAND/-NOINTR:
     *     ax = orig_ax, ip -= 2; ax = -ERESTART_RESTARTBLOCK: ax = -EINTR). They are written as they are, with
     *     {@code mode = NATIVE}.
     * <li>{@code xstate}: the buffer compel's {@code get_task_xsave()} works on: {@code
     *     PTRACE_GETREGSET(NT_X86_XSTATE)} in the standard format, with the first 512 bytes replaced by
     *     {@code PTRACE_GETFPREGS} when its xstate_bv lacks x87 or SSE (init optimisation), as compel does. From it
     *     come cwd, swd, twd, fop (u16 at 0, 2, 4, 6), rip, rdp (u64 at 8, 16), mxcsr, mxcsr_mask (u32 at 24, 28),
     *     st_space (32 u32 at 32), xmm_space (64 u32 at 160); with an XSAVE extension in this image, xstate_bv
     *     (u64 at 512) and each component the image holds, from {@code layout}'s offset, whether or not its bit
     *     is set in xstate_bv (CRIU copies it unconditionally; its restore skips components not in xstate_bv).
     *     FXSAVE padding, the xstate_fx_sw bytes and xcomp_bv are not saved, as in CRIU; {@code fpregs.padding} keeps what
     *     the image had (CRIU never writes it). On a CPU with shadow stacks CRIU writes {@code xsave.cet}; it is
     *     {cet = 0, ssp = 0} for a thread without an enabled shadow stack and kept as such (glibc enables and locks
     *     the shadow stack at startup, so a thread that had none in the base has none later); a base core whose
     *     thread has one is rejected, since its SSP changes with every call and is not captured.
     * <li>{@code sigmask}: the thread's blocked set, where CRIU puts it: {@code tc.blk_sigset} in the leader's core
     *     (the field restore reads for it), {@code thread_core.blk_sigset} in the others'.
     * </ul>
     *
     * @param layout the buffer's XSAVE layout; may be null only if this image has no XSAVE extension
     * @throws IllegalArgumentException if the buffer is too short or its layout lacks a component the image holds,
     *     or holds one CRIU saves that the image lacks (base dumped on another CPU)
     * @throws IllegalStateException if the image is not a native x86-64 core or holds state this mapping cannot
     *     supply (an enabled CET shadow stack, blk_sigset_extended)
     */
    public CoreImage withThreadState(long[] gpregs, byte[] xstate, XsaveLayout layout, long sigmask) {
        if (gpregs.length != GPREGS_COUNT) throw new IllegalArgumentException(gpregs.length + " gpregs, expected 27");
        if (core.varint(CORE_MTYPE) != MARCH_X86_64) {
            throw new IllegalStateException("core image of march " + core.varint(CORE_MTYPE) + ", not x86-64");
        }
        ProtoMessage out = core.copy();
        ProtoMessage ti = out.message(CORE_THREAD_INFO);
        ProtoMessage gp = ti.message(TI_GPREGS);
        if (gp.findVarint(GP_MODE).orElse(MODE_NATIVE) != MODE_NATIVE) {
            throw new IllegalStateException("compat (32-bit) core image is not supported");
        }
        for (int i = 0; i < GPREGS_COUNT; i++) gp.setVarint(i + 1, gpregs[i]);
        gp.setVarint(GP_MODE, MODE_NATIVE);

        ProtoMessage fp = ti.message(TI_FPREGS);
        if (fp != null) fillFpregs(fp, xstate, layout);

        ProtoMessage sigs = out.has(CORE_TC) ? out.message(CORE_TC) : out.messageOrAdd(CORE_THREAD_CORE);
        int field = out.has(CORE_TC) ? TC_BLK_SIGSET : THC_BLK_SIGSET;
        int extended = out.has(CORE_TC) ? TC_BLK_SIGSET_EXTENDED : THC_BLK_SIGSET_EXTENDED;
        if (sigs.has(extended)) throw new IllegalStateException("blk_sigset_extended (MIPS only) in an x86 core");
        sigs.setVarint(field, sigmask);
        return new CoreImage(file, out);
    }

    private static void fillFpregs(ProtoMessage fp, byte[] xstate, XsaveLayout layout) {
        if (xstate.length < FXSAVE_SIZE) throw new IllegalArgumentException("FPU buffer of " + xstate.length + " bytes");
        ByteBuffer b = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN);
        fp.setVarint(FP_CWD, b.getShort(OFF_CWD) & 0xffffL);
        fp.setVarint(FP_SWD, b.getShort(OFF_SWD) & 0xffffL);
        fp.setVarint(FP_TWD, b.getShort(OFF_TWD) & 0xffffL);
        fp.setVarint(FP_FOP, b.getShort(OFF_FOP) & 0xffffL);
        fp.setVarint(FP_RIP, b.getLong(OFF_RIP));
        fp.setVarint(FP_RDP, b.getLong(OFF_RDP));
        fp.setVarint(FP_MXCSR, b.getInt(OFF_MXCSR) & 0xffffffffL);
        fp.setVarint(FP_MXCSR_MASK, b.getInt(OFF_MXCSR_MASK) & 0xffffffffL);
        fp.setRepeatedVarints(FP_ST_SPACE, getArray(b, OFF_ST_SPACE, 4, ST_SPACE_U32));
        fp.setRepeatedVarints(FP_XMM_SPACE, getArray(b, OFF_XMM_SPACE, 4, XMM_SPACE_U32));

        ProtoMessage xs = fp.message(FP_XSAVE);
        if (xs == null) return;
        if (layout == null) throw new IllegalArgumentException("image has an XSAVE extension: an XSAVE layout is needed");
        ProtoMessage cet = xs.message(XS_CET);
        if (cet != null && (cet.findVarint(CET_CET).orElse(0) != 0 || cet.findVarint(CET_SSP).orElse(0) != 0)) {
            throw new IllegalStateException("thread uses a CET shadow stack: its SSP cannot be supplied");
        }
        if (xstate.length < layout.size()) {
            throw new IllegalArgumentException("XSAVE buffer of " + xstate.length + " bytes, layout needs " + layout.size());
        }
        xs.setVarint(XS_XSTATE_BV, b.getLong(XsaveLayout.XSAVE_HEADER_OFFSET));
        for (Component c : COMPONENTS) {
            boolean inImage = xs.has(c.field());
            if (inImage != layout.has(c.feature())) {
                throw new IllegalArgumentException("xfeature " + c.feature() + (inImage
                        ? " is in the image but not in the XSAVE buffer's layout " : " is enabled but not in the image ")
                        + layout + " (base dumped on another CPU?)");
            }
            if (!inImage) continue;
            int n = xs.repeatedVarints(c.field()).length;
            if (n != c.count()) {
                throw new IllegalArgumentException("xfeature " + c.feature() + ": image holds " + n + " elements, CRIU writes " + c.count());
            }
            xs.setRepeatedVarints(c.field(), getArray(b, layout.offset(c.feature()), c.elemBytes(), c.count()));
        }
    }

    private ProtoMessage gpregsMessage() {
        return threadInfo().message(TI_GPREGS);
    }

    private ProtoMessage fpregsMessage() {
        ProtoMessage fp = threadInfo().message(TI_FPREGS);
        if (fp == null) throw new IllegalStateException("core image without fpregs");
        return fp;
    }

    private ProtoMessage threadInfo() {
        ProtoMessage ti = core.message(CORE_THREAD_INFO);
        if (ti == null) throw new IllegalStateException("core image without x86 thread_info");
        return ti;
    }

    private static long[] getArray(ByteBuffer b, int off, int elemBytes, int count) {
        long[] v = new long[count];
        for (int i = 0; i < count; i++) {
            v[i] = elemBytes == 4 ? b.getInt(off + 4 * i) & 0xffffffffL : b.getLong(off + 8 * i);
        }
        return v;
    }

    private static void putArray(ByteBuffer b, int off, int elemBytes, long[] v, int count, String what) {
        if (v.length != count) throw new IllegalStateException(what + ": " + v.length + " elements, expected " + count);
        for (int i = 0; i < count; i++) {
            if (elemBytes == 4) b.putInt(off + 4 * i, (int) v[i]);
            else b.putLong(off + 8 * i, v[i]);
        }
    }
}
