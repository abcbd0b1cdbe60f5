package io.checkpointd.protocol.image;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where each user state component sits in the kernel's standard (non-compacted) XSAVE buffer, the format of
 * {@code PTRACE_GETREGSET(NT_X86_XSTATE)} ({@code struct user_xstateregs}): the 512-byte FXSAVE legacy area, whose
 * bytes 464..511 ({@code xstate_fx_sw}) the kernel fills with XCR0 (the enabled feature mask) in the first u64
 * and zeros — the ELF core-note convention, not the signal frame's {@code fpx_sw_bytes} with its magic; the
 * 64-byte XSAVE header at 512 (xstate_bv first); then the extended components at CPUID-defined offsets. The
 * regset's length (the iovec length the kernel returns) is the end of the highest enabled component.
 *
 * <p>The offset of every component but YMM (always 576) comes from CPUID leaf 0xD, which Java cannot read.
 * {@link #infer} therefore takes XCR0 and the size of the whole buffer and picks the one known vendor layout
 * consistent with both:
 * <ul>
 * <li>Intel: YMM 576 (256), BNDREGS 960 (64), BNDCSR 1024 (64), opmask 1088 (64), ZMM_Hi256 1152 (512),
 *     Hi16_ZMM 1664 (1024), PKRU 2688 (8), XTILECFG 2752 (64), XTILEDATA 2816 (8192); the holes of absent
 *     components are kept;
 * <li>AMD (Zen 1–5, no MPX): YMM 576, opmask 832, ZMM_Hi256 896, Hi16_ZMM 1408, PKRU 2432; e.g. 2440 bytes with
 *     XCR0 0x207 (x87, SSE, AVX, PKU) on an EPYC without AVX-512, whose CRIU reports "PKRU xstate_offsets 2432".
 * </ul>
 * Whenever the enabled set includes PKRU or AVX-512 the two layouts end at different sizes (2696/2440, 2688/2432),
 * so the size decides; with only YMM they agree. A feature bit outside this table, or a size neither layout
 * explains, is rejected ({@link IllegalArgumentException}) rather than mapped by guess. A caller that knows the
 * CPUID offsets passes them to {@link #of} instead.
 */
public final class XsaveLayout {
    public static final int XFEATURE_FP = 0, XFEATURE_SSE = 1, XFEATURE_YMM = 2, XFEATURE_BNDREGS = 3,
            XFEATURE_BNDCSR = 4, XFEATURE_OPMASK = 5, XFEATURE_ZMM_HI256 = 6, XFEATURE_HI16_ZMM = 7,
            XFEATURE_PKRU = 9, XFEATURE_XTILECFG = 17, XFEATURE_XTILEDATA = 18;

    /** Offset of {@code xstate_fx_sw[USER_XSTATE_XCR0_WORD]}: the XCR0 the kernel reports in a regset read. */
    public static final int XCR0_OFFSET = 464;
    /** Offset of the XSAVE header (xstate_bv, xcomp_bv, reserved). */
    public static final int XSAVE_HEADER_OFFSET = 512;
    /** Size of the legacy area plus the header: where the first extended component (YMM) starts. */
    public static final int LEGACY_AND_HEADER_SIZE = 576;

    private static final int[][] INTEL = {
            {XFEATURE_YMM, 576, 256}, {XFEATURE_BNDREGS, 960, 64}, {XFEATURE_BNDCSR, 1024, 64},
            {XFEATURE_OPMASK, 1088, 64}, {XFEATURE_ZMM_HI256, 1152, 512}, {XFEATURE_HI16_ZMM, 1664, 1024},
            {XFEATURE_PKRU, 2688, 8}, {XFEATURE_XTILECFG, 2752, 64}, {XFEATURE_XTILEDATA, 2816, 8192}};
    private static final int[][] AMD = {
            {XFEATURE_YMM, 576, 256}, {XFEATURE_OPMASK, 832, 64}, {XFEATURE_ZMM_HI256, 896, 512},
            {XFEATURE_HI16_ZMM, 1408, 1024}, {XFEATURE_PKRU, 2432, 8}};

    /** Sizes of the components CRIU saves (criu/arch/x86: sizeof the compel structs). */
    private static final Map<Integer, Integer> SIZES = Map.of(XFEATURE_YMM, 256, XFEATURE_BNDREGS, 64,
            XFEATURE_BNDCSR, 64, XFEATURE_OPMASK, 64, XFEATURE_ZMM_HI256, 512, XFEATURE_HI16_ZMM, 1024,
            XFEATURE_PKRU, 8);

    private final long xfeatures;
    private final int size;
    private final Map<Integer, Integer> offsets;

    private XsaveLayout(long xfeatures, int size, Map<Integer, Integer> offsets) {
        this.xfeatures = xfeatures;
        this.size = size;
        this.offsets = offsets;
    }

    /**
     * An explicit layout, e.g. from CPUID 0xD: {@code offsets} maps each enabled extended feature (bit ≥ 2) to its
     * offset; the FP and SSE bits must be set.
     */
    public static XsaveLayout of(long xfeatures, int size, Map<Integer, Integer> offsets) {
        if ((xfeatures & 3) != 3) throw new IllegalArgumentException("xfeatures without x87/SSE: 0x" + Long.toHexString(xfeatures));
        Map<Integer, Integer> m = new TreeMap<>();
        for (int bit = 2; bit < 64; bit++) {
            if ((xfeatures & (1L << bit)) == 0) continue;
            Integer off = offsets.get(bit);
            if (off == null) throw new IllegalArgumentException("no offset for enabled xfeature " + bit);
            Integer sz = SIZES.get(bit);
            if (off < LEGACY_AND_HEADER_SIZE || (sz != null && off + sz > size)) {
                throw new IllegalArgumentException("xfeature " + bit + " at " + off + " outside a " + size + "-byte buffer");
            }
            m.put(bit, off);
        }
        return new XsaveLayout(xfeatures, size, Map.copyOf(m));
    }

    /** Infers the layout from the kernel's enabled features and buffer size; see the class comment. */
    public static XsaveLayout infer(long xfeatures, int xstateSize) {
        if ((xfeatures & 3) != 3) throw new IllegalArgumentException("xfeatures without x87/SSE: 0x" + Long.toHexString(xfeatures));
        List<XsaveLayout> fits = new ArrayList<>();
        for (int[][] table : new int[][][] {INTEL, AMD}) {
            XsaveLayout l = fromTable(table, xfeatures, xstateSize);
            if (l != null) fits.add(l);
        }
        if (fits.isEmpty()) {
            throw new IllegalArgumentException(String.format(
                    "unknown XSAVE layout: XCR0 0x%x, size %d fit neither the Intel nor the AMD offsets",
                    xfeatures, xstateSize));
        }
        if (fits.size() > 1 && !fits.get(0).offsets.equals(fits.get(1).offsets)) {
            throw new IllegalArgumentException(String.format(
                    "ambiguous XSAVE layout: XCR0 0x%x, size %d fit Intel and AMD offsets", xfeatures, xstateSize));
        }
        return fits.get(0);
    }

    /**
     * The layout of a {@code PTRACE_GETREGSET(NT_X86_XSTATE)} buffer: XCR0 from its {@code xstate_fx_sw} word, the
     * size from its length (pass exactly the bytes the kernel returned, not the whole buffer it wrote into).
     */
    public static XsaveLayout fromRegset(byte[] xstate) {
        if (xstate.length < LEGACY_AND_HEADER_SIZE) {
            throw new IllegalArgumentException("XSAVE buffer of " + xstate.length + " bytes, less than 576");
        }
        long xcr0 = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).getLong(XCR0_OFFSET);
        if ((xcr0 & 3) != 3) {
            throw new IllegalArgumentException(String.format("XSAVE buffer without the kernel's XCR0 word at 464 (0x%x):"
                    + " not a regset read, or its legacy area was replaced by PTRACE_GETFPREGS", xcr0));
        }
        return infer(xcr0, xstate.length);
    }

    private static XsaveLayout fromTable(int[][] table, long xfeatures, int xstateSize) {
        Map<Integer, Integer> m = new TreeMap<>();
        int end = LEGACY_AND_HEADER_SIZE;
        for (int bit = 2; bit < 64; bit++) {
            if ((xfeatures & (1L << bit)) == 0) continue;
            int[] row = null;
            for (int[] r : table) if (r[0] == bit) row = r;
            if (row == null) return null;
            m.put(bit, row[1]);
            end = Math.max(end, row[1] + row[2]);
        }
        return end == xstateSize ? new XsaveLayout(xfeatures, xstateSize, Map.copyOf(m)) : null;
    }

    /** The enabled features (XCR0), bit per {@code XFEATURE_*}. */
    public long xfeatures() {
        return xfeatures;
    }

    /** Size of the whole buffer (the regset's length). */
    public int size() {
        return size;
    }

    public boolean has(int feature) {
        return feature >= 0 && feature < 64 && (xfeatures & (1L << feature)) != 0;
    }

    /** Offset of an enabled extended component; {@link IllegalArgumentException} if it is not enabled. */
    public int offset(int feature) {
        Integer off = offsets.get(feature);
        if (off == null) throw new IllegalArgumentException("xfeature " + feature + " not in this XSAVE layout");
        return off;
    }

    /** Size of a component CRIU saves. */
    static int componentSize(int feature) {
        Integer s = SIZES.get(feature);
        if (s == null) throw new IllegalArgumentException("CRIU saves no xfeature " + feature);
        return s;
    }

    /** Writes the XCR0 word into a buffer, as the kernel does for a regset read. */
    public void writeXcr0(byte[] xstate) {
        ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN).putLong(XCR0_OFFSET, xfeatures);
    }

    @Override
    public String toString() {
        return String.format("XsaveLayout[xfeatures=0x%x, size=%d, offsets=%s]", xfeatures, size, offsets);
    }
}
