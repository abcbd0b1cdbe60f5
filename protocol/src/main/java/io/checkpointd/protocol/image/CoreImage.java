package io.checkpointd.protocol.image;

import io.checkpointd.protocol.image.criu.Core.core_entry;
import io.checkpointd.protocol.image.criu.Core.thread_core_entry;
import io.checkpointd.protocol.image.criu.CoreX86.thread_info_x86;
import io.checkpointd.protocol.image.criu.CoreX86.user_x86_fpregs_entry;
import io.checkpointd.protocol.image.criu.CoreX86.user_x86_regs_entry;
import io.checkpointd.protocol.image.criu.CoreX86.user_x86_regs_mode;
import io.checkpointd.protocol.image.criu.CoreX86.user_x86_xsave_entry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ObjLongConsumer;
import java.util.function.ToLongFunction;

/**
 * A CRIU {@code core-<tid>.img} of an x86-64 thread (images/core.proto, core-x86.proto; MIT): one
 * {@code core_entry} whose {@code thread_info} holds the registers CRIU restores. The backup patches a base dump's
 * core images with registers the primary captured itself, so that CRIU restores them exactly as if it had dumped
 * that state: {@link #withThreadState} fills the same fields from the same bytes as CRIU 4.2.1's
 * {@code save_task_regs()} (criu/arch/x86/crtools.c) and leaves every other field byte for byte as it was.
 *
 * <p>Immutable. {@code parse(x).encode()} is byte-identical to an {@code x} CRIU wrote (fields in number order, as
 * protobuf-c writes them); other input comes back in that canonical form, unknown fields kept.
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

    /** FXSAVE legacy area: offsets of i387 fields CRIU saves, and the sizes of st_space / xmm_space in u32s. */
    private static final int OFF_CWD = 0, OFF_SWD = 2, OFF_TWD = 4, OFF_FOP = 6, OFF_RIP = 8, OFF_RDP = 16,
            OFF_MXCSR = 24, OFF_MXCSR_MASK = 28, OFF_ST_SPACE = 32, OFF_XMM_SPACE = 160;
    private static final int ST_SPACE_U32 = 32, XMM_SPACE_U32 = 64, FXSAVE_SIZE = 512;
    /** user_x86_regs_entry fields 1..27, the registers in {@code struct user_regs_struct} order (no reflection). */
    private static final List<ToLongFunction<user_x86_regs_entry>> GP_GET = List.of(
            user_x86_regs_entry::getR15, user_x86_regs_entry::getR14, user_x86_regs_entry::getR13,
            user_x86_regs_entry::getR12, user_x86_regs_entry::getBp, user_x86_regs_entry::getBx,
            user_x86_regs_entry::getR11, user_x86_regs_entry::getR10, user_x86_regs_entry::getR9,
            user_x86_regs_entry::getR8, user_x86_regs_entry::getAx, user_x86_regs_entry::getCx,
            user_x86_regs_entry::getDx, user_x86_regs_entry::getSi, user_x86_regs_entry::getDi,
            user_x86_regs_entry::getOrigAx, user_x86_regs_entry::getIp, user_x86_regs_entry::getCs,
            user_x86_regs_entry::getFlags, user_x86_regs_entry::getSp, user_x86_regs_entry::getSs,
            user_x86_regs_entry::getFsBase, user_x86_regs_entry::getGsBase, user_x86_regs_entry::getDs,
            user_x86_regs_entry::getEs, user_x86_regs_entry::getFs, user_x86_regs_entry::getGs);
    private static final List<ObjLongConsumer<user_x86_regs_entry.Builder>> GP_SET = List.of(
            user_x86_regs_entry.Builder::setR15, user_x86_regs_entry.Builder::setR14,
            user_x86_regs_entry.Builder::setR13, user_x86_regs_entry.Builder::setR12,
            user_x86_regs_entry.Builder::setBp, user_x86_regs_entry.Builder::setBx,
            user_x86_regs_entry.Builder::setR11, user_x86_regs_entry.Builder::setR10,
            user_x86_regs_entry.Builder::setR9, user_x86_regs_entry.Builder::setR8,
            user_x86_regs_entry.Builder::setAx, user_x86_regs_entry.Builder::setCx,
            user_x86_regs_entry.Builder::setDx, user_x86_regs_entry.Builder::setSi,
            user_x86_regs_entry.Builder::setDi, user_x86_regs_entry.Builder::setOrigAx,
            user_x86_regs_entry.Builder::setIp, user_x86_regs_entry.Builder::setCs,
            user_x86_regs_entry.Builder::setFlags, user_x86_regs_entry.Builder::setSp,
            user_x86_regs_entry.Builder::setSs, user_x86_regs_entry.Builder::setFsBase,
            user_x86_regs_entry.Builder::setGsBase, user_x86_regs_entry.Builder::setDs,
            user_x86_regs_entry.Builder::setEs, user_x86_regs_entry.Builder::setFs,
            user_x86_regs_entry.Builder::setGs);

    /** An XSAVE component CRIU saves: its user_x86_xsave_entry field, xfeature and element width. */
    private record Component(int number, int feature, int elemBytes) {
        int count() {
            return XsaveLayout.componentSize(feature) / elemBytes;
        }

        /** The component's values in {@code xs} (uint32 ones zero-extended); empty if the image lacks it. */
        long[] get(user_x86_xsave_entry xs) {
            return longs(switch (number) {
                case 2 -> xs.getYmmhSpaceList();
                case 3 -> xs.getBndregStateList();
                case 4 -> xs.getBndcsrStateList();
                case 5 -> xs.getOpmaskRegList();
                case 6 -> xs.getZmmUpperList();
                case 7 -> xs.getHi16ZmmList();
                case 8 -> xs.getPkruList();
                default -> throw new IllegalStateException("xsave field " + number);
            });
        }

        void set(user_x86_xsave_entry.Builder xs, long[] v) {
            switch (number) {
                case 2 -> xs.clearYmmhSpace().addAllYmmhSpace(ints(v));
                case 3 -> xs.clearBndregState().addAllBndregState(boxed(v));
                case 4 -> xs.clearBndcsrState().addAllBndcsrState(boxed(v));
                case 5 -> xs.clearOpmaskReg().addAllOpmaskReg(boxed(v));
                case 6 -> xs.clearZmmUpper().addAllZmmUpper(boxed(v));
                case 7 -> xs.clearHi16Zmm().addAllHi16Zmm(boxed(v));
                case 8 -> xs.clearPkru().addAllPkru(ints(v));
                default -> throw new IllegalStateException("xsave field " + number);
            }
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
    private final core_entry core;

    private CoreImage(ImageFile file, core_entry core) {
        this.file = file;
        this.core = core;
    }

    public static CoreImage parse(byte[] image) throws IOException {
        ImageFile f = ImageFile.parse(image, ImageFile.CORE_MAGIC);
        if (f.entryCount() != 1) throw new IOException("core image with " + f.entryCount() + " entries, expected 1");
        // a missing mtype (required) fails here already
        return new CoreImage(f, f.message(0, core_entry.parser()));
    }

    public byte[] encode() {
        return file.withMessages(List.of(core)).encode();
    }

    /** The whole {@code core_entry} (immutable), for fields this class has no accessor for. */
    public core_entry message() {
        return core;
    }

    /** True for a thread-group leader's core (it carries {@code tc}, the task's state). */
    public boolean isLeader() {
        return core.hasTc();
    }

    /** {@code thread_info.clear_tid_addr}: where the kernel clears the tid and wakes joiners when the thread exits. */
    public long clearTidAddr() {
        return threadInfo().getClearTidAddr();
    }

    /** {@code thread_core} (null for none): the per-thread fields beyond registers. */
    public thread_core_entry threadCore() {
        return core.hasThreadCore() ? core.getThreadCore() : null;
    }

    /**
     * This core with another thread's {@link ThreadFields} (clear_tid_addr, TLS entries, robust list, scheduling,
     * comm, rseq), the rest as it was: with {@link #withThreadState}, a non-leader thread's core turned into another
     * thread's. Only for a non-leader core (a leader's carries the task's state).
     */
    public CoreImage withThreadFields(ThreadFields f) {
        if (isLeader()) throw new IllegalStateException("a thread-group leader's core is not a template for another thread");
        core_entry.Builder out = core.toBuilder();
        if (!out.hasThreadInfo()) throw new IllegalStateException("core image without x86 thread_info");
        f.writeTo(out.getThreadInfoBuilder(), out.getThreadCoreBuilder());
        return new CoreImage(file, out.build());
    }

    /** The 27 general-purpose registers in {@code struct user_regs_struct} order (r15 … gs). */
    public long[] gpregs() {
        user_x86_regs_entry gp = threadInfo().getGpregs();
        long[] r = new long[GPREGS_COUNT];
        for (int i = 0; i < GPREGS_COUNT; i++) r[i] = GP_GET.get(i).applyAsLong(gp);
        return r;
    }

    /**
     * The thread's blocked signal mask as CRIU restores it: {@code tc.blk_sigset} for the leader,
     * {@code thread_core.blk_sigset} for other threads (0 if CRIU did not record one).
     */
    public long blockedSignals() {
        if (isLeader()) return core.getTc().getBlkSigset();
        return core.getThreadCore().getBlkSigset();
    }

    /** True if the image carries an XSAVE extension ({@code fpregs.xsave}), i.e. CRIU saw OSXSAVE. */
    public boolean hasXsave() {
        return threadInfo().getFpregs().hasXsave();
    }

    /**
     * The xfeature bits of the state this image holds: x87 and SSE, plus every XSAVE component CRIU saved
     * (it saves each one the CPU supports, whether in use or not).
     */
    public long savedXfeatures() {
        long bits = (1L << XsaveLayout.XFEATURE_FP) | (1L << XsaveLayout.XFEATURE_SSE);
        user_x86_fpregs_entry fp = threadInfo().getFpregs();
        if (fp.hasXsave()) {
            for (Component c : COMPONENTS) if (c.get(fp.getXsave()).length > 0) bits |= 1L << c.feature();
        }
        return bits;
    }

    /**
     * The FPU state of this image as a standard XSAVE buffer of {@code layout.size()} bytes: the inverse of
     * {@link #withThreadState}'s mapping. Bytes CRIU does not save (FXSAVE padding, xcomp_bv, the header's reserved
     * words, components this image lacks) are zero; the XCR0 word at 464 is {@code layout}'s, as in a regset read. Two threads' FPU states are equal as CRIU restores them iff these buffers are.
     */
    public byte[] xstate(XsaveLayout layout) {
        user_x86_fpregs_entry fp = threadInfo().getFpregs();
        byte[] buf = new byte[fp.hasXsave() ? layout.size() : FXSAVE_SIZE];
        ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort(OFF_CWD, (short) fp.getCwd());
        b.putShort(OFF_SWD, (short) fp.getSwd());
        b.putShort(OFF_TWD, (short) fp.getTwd());
        b.putShort(OFF_FOP, (short) fp.getFop());
        b.putLong(OFF_RIP, fp.getRip());
        b.putLong(OFF_RDP, fp.getRdp());
        b.putInt(OFF_MXCSR, fp.getMxcsr());
        b.putInt(OFF_MXCSR_MASK, fp.getMxcsrMask());
        putArray(b, OFF_ST_SPACE, 4, longs(fp.getStSpaceList()), ST_SPACE_U32, "st_space");
        putArray(b, OFF_XMM_SPACE, 4, longs(fp.getXmmSpaceList()), XMM_SPACE_U32, "xmm_space");
        if (!fp.hasXsave()) return buf;
        user_x86_xsave_entry xs = fp.getXsave();
        layout.writeXcr0(buf);
        b.putLong(XsaveLayout.XSAVE_HEADER_OFFSET, xs.getXstateBv());
        for (Component c : COMPONENTS) {
            long[] v = c.get(xs);
            if (v.length == 0) continue;
            putArray(b, layout.offset(c.feature()), c.elemBytes(), v, c.count(), "xfeature " + c.feature());
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
        if (core.getMtype() != core_entry.march.X86_64) {
            throw new IllegalStateException("core image of march " + core.getMtype() + ", not x86-64");
        }
        threadInfo();
        core_entry.Builder out = core.toBuilder();
        user_x86_regs_entry.Builder gp = out.getThreadInfoBuilder().getGpregsBuilder();
        if (gp.getMode() != user_x86_regs_mode.NATIVE) {
            throw new IllegalStateException("compat (32-bit) core image is not supported");
        }
        for (int i = 0; i < GPREGS_COUNT; i++) GP_SET.get(i).accept(gp, gpregs[i]);
        gp.setMode(user_x86_regs_mode.NATIVE);

        fillFpregs(out.getThreadInfoBuilder().getFpregsBuilder(), xstate, layout);

        if (out.hasTc()) {
            if (out.getTc().hasBlkSigsetExtended()) throw new IllegalStateException("blk_sigset_extended (MIPS only) in an x86 core");
            out.getTcBuilder().setBlkSigset(sigmask);
        } else {
            if (out.getThreadCore().hasBlkSigsetExtended()) throw new IllegalStateException("blk_sigset_extended (MIPS only) in an x86 core");
            out.getThreadCoreBuilder().setBlkSigset(sigmask);
        }
        return new CoreImage(file, out.build());
    }

    private static void fillFpregs(user_x86_fpregs_entry.Builder fp, byte[] xstate, XsaveLayout layout) {
        if (xstate.length < FXSAVE_SIZE) throw new IllegalArgumentException("FPU buffer of " + xstate.length + " bytes");
        ByteBuffer b = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN);
        fp.setCwd(b.getShort(OFF_CWD) & 0xffff);
        fp.setSwd(b.getShort(OFF_SWD) & 0xffff);
        fp.setTwd(b.getShort(OFF_TWD) & 0xffff);
        fp.setFop(b.getShort(OFF_FOP) & 0xffff);
        fp.setRip(b.getLong(OFF_RIP));
        fp.setRdp(b.getLong(OFF_RDP));
        fp.setMxcsr(b.getInt(OFF_MXCSR));
        fp.setMxcsrMask(b.getInt(OFF_MXCSR_MASK));
        fp.clearStSpace().addAllStSpace(ints(getArray(b, OFF_ST_SPACE, 4, ST_SPACE_U32)));
        fp.clearXmmSpace().addAllXmmSpace(ints(getArray(b, OFF_XMM_SPACE, 4, XMM_SPACE_U32)));

        if (!fp.hasXsave()) return;
        if (layout == null) throw new IllegalArgumentException("image has an XSAVE extension: an XSAVE layout is needed");
        user_x86_xsave_entry base = fp.getXsave();
        user_x86_xsave_entry.Builder xs = fp.getXsaveBuilder();
        if (xs.hasCet() && (xs.getCet().getCet() != 0 || xs.getCet().getSsp() != 0)) {
            throw new IllegalStateException("thread uses a CET shadow stack: its SSP cannot be supplied");
        }
        if (xstate.length < layout.size()) {
            throw new IllegalArgumentException("XSAVE buffer of " + xstate.length + " bytes, layout needs " + layout.size());
        }
        xs.setXstateBv(b.getLong(XsaveLayout.XSAVE_HEADER_OFFSET));
        for (Component c : COMPONENTS) {
            int n = c.get(base).length;
            boolean inImage = n > 0;
            if (inImage != layout.has(c.feature())) {
                throw new IllegalArgumentException("xfeature " + c.feature() + (inImage
                        ? " is in the image but not in the XSAVE buffer's layout " : " is enabled but not in the image ")
                        + layout + " (base dumped on another CPU?)");
            }
            if (!inImage) continue;
            if (n != c.count()) {
                throw new IllegalArgumentException("xfeature " + c.feature() + ": image holds " + n + " elements, CRIU writes " + c.count());
            }
            c.set(xs, getArray(b, layout.offset(c.feature()), c.elemBytes(), c.count()));
        }
    }

    private thread_info_x86 threadInfo() {
        if (!core.hasThreadInfo()) throw new IllegalStateException("core image without x86 thread_info");
        return core.getThreadInfo();
    }

    /** A repeated uint32 or uint64 field's values, uint32 ones zero-extended. */
    private static long[] longs(List<? extends Number> l) {
        long[] v = new long[l.size()];
        for (int i = 0; i < v.length; i++) v[i] = l.get(i) instanceof Integer x ? Integer.toUnsignedLong(x) : l.get(i).longValue();
        return v;
    }

    private static List<Integer> ints(long[] v) {
        List<Integer> l = new ArrayList<>(v.length);
        for (long x : v) l.add((int) x);
        return l;
    }

    private static List<Long> boxed(long[] v) {
        List<Long> l = new ArrayList<>(v.length);
        for (long x : v) l.add(x);
        return l;
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
