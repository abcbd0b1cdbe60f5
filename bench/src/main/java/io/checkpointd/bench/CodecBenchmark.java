package io.checkpointd.bench;

import io.checkpointd.protocol.image.CoreImage;
import io.checkpointd.protocol.image.ImageFile;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.image.XsaveLayout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * The CRIU image codecs before and after issue #18, in one run: the hand-written {@link ProtoMessageBaseline} against
 * the protobuf-java classes generated from CRIU's .proto files, on a pagemap (CRIU's own of a Python process, and a
 * synthetic one of 10,000 runs, as a fragmented 1 GiB heap gives) and an x86-64 core image CRIU 4.2.1 wrote.
 * Decode = bytes to what the engine reads (the runs; the registers and the FPU state); encode = what the engine
 * writes (a pagemap from runs; a base core, parsed once as ThreadModel keeps it, patched with a thread's registers
 * and FPU state and encoded, as every epoch does for every thread). Rounds interleave the codecs; the
 * figure is the median of the rounds' mean time per operation. Writes the "CRIU image codec" section of
 * docs/dependencies.md.
 *
 * <pre>
 * java -cp ... io.checkpointd.bench.CodecBenchmark [--rounds 7] [--ms 300] [--fixtures DIR] [--docs docs/dependencies.md]
 * </pre>
 */
public final class CodecBenchmark {
    private static final String BEGIN = "<!-- codec-benchmark:begin (written by CodecBenchmark) -->";
    private static final String END = "<!-- codec-benchmark:end -->";
    /** The fixtures CRIU 4.2.1 dumped on an AMD EPYC (XCR0 0x207, 2440-byte XSAVE area); see CriuFixtures. */
    private static final XsaveLayout EPYC = XsaveLayout.infer(0x207, 2440);
    private static volatile long sink;

    private CodecBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) opt.put(args[i], args[i + 1]);
        if (args.length % 2 != 0 || !List.of("--rounds", "--ms", "--fixtures", "--docs").containsAll(opt.keySet())) {
            System.err.println("usage: CodecBenchmark [--rounds N] [--ms MS] [--fixtures DIR] [--docs FILE]");
            System.exit(2);
        }
        int rounds = Integer.parseInt(opt.getOrDefault("--rounds", "7"));
        long ms = Long.parseLong(opt.getOrDefault("--ms", "300"));
        Path fixtures = Path.of(opt.getOrDefault("--fixtures", "protocol/src/test/resources/io/checkpointd/protocol/image"));
        byte[] criuPagemap = Files.readAllBytes(fixtures.resolve("python/pagemap-3145.img"));
        byte[] core = Files.readAllBytes(fixtures.resolve("sleep/core-968.img"));
        byte[] bigPagemap = syntheticPagemap(10_000);
        List<Pagemap.Run> bigRuns = Pagemap.parse(bigPagemap).runs();
        CoreImage coreImage = CoreImage.parse(core);
        long[] gp = coreImage.gpregs();
        byte[] xstate = coreImage.xstate(EPYC);
        check(criuPagemap, bigPagemap, core, gp, xstate);

        // name → {baseline, protobuf-java}
        Map<String, List<ToLongFunction<Void>>> ops = new LinkedHashMap<>();
        ops.put(String.format("pagemap decode (CRIU's, %d runs, %d B)", Pagemap.parse(criuPagemap).runs().size(), criuPagemap.length),
                List.of(v -> Baseline.pagemapRuns(criuPagemap), v -> unchecked(() -> Pagemap.parse(criuPagemap).runs().size())));
        ops.put(String.format("pagemap decode (10,000 runs, %d KiB)", bigPagemap.length >> 10),
                List.of(v -> Baseline.pagemapRuns(bigPagemap), v -> unchecked(() -> Pagemap.parse(bigPagemap).runs().size())));
        ops.put("pagemap encode (10,000 runs)",
                List.of(v -> Baseline.pagemap(1, bigRuns).length, v -> Pagemap.of(1, bigRuns).encode().length));
        ops.put(String.format("core decode (registers + FPU, %d B)", core.length),
                List.of(v -> Baseline.coreState(core, EPYC), v -> unchecked(() -> {
                    CoreImage c = CoreImage.parse(core);
                    return c.gpregs()[0] + c.xstate(EPYC)[0];
                })));
        ProtoMessageBaseline oldCore = Baseline.parseCore(core);
        ops.put("core patch + encode (registers + FPU, parsed once)",
                List.of(v -> Baseline.patchCore(oldCore, gp, xstate, EPYC).length,
                        v -> coreImage.withThreadState(gp, xstate, EPYC, 0).encode().length));

        Map<String, double[][]> ns = new LinkedHashMap<>();
        for (var e : ops.entrySet()) {
            double[][] r = new double[2][rounds];
            // warm-up, not counted: long enough for C2 to compile both paths on a busy 2-core machine
            for (int w = 0; w < 5; w++) for (int k = 0; k < 2; k++) measure(e.getValue().get(k), ms);
            for (int i = 0; i < rounds; i++) for (int k = 0; k < 2; k++) r[k][i] = measure(e.getValue().get(k), ms);
            ns.put(e.getKey(), r);
            System.out.printf(Locale.ROOT, "%-44s hand-written %9.2f µs   protobuf-java %9.2f µs%n", e.getKey(),
                    median(r[0]) / 1e3, median(r[1]) / 1e3);
        }
        String section = section(ns, rounds, ms);
        System.out.println(section);
        Path docs = Path.of(opt.getOrDefault("--docs", "docs/dependencies.md"));
        if (Files.exists(docs)) DocSection.replaceBetween(docs, section, BEGIN, END);
    }

    /** Both codecs read and write the same thing: the comparison is between equals. */
    private static void check(byte[] criuPagemap, byte[] bigPagemap, byte[] core, long[] gp, byte[] xs) throws IOException {
        for (byte[] pm : List.of(criuPagemap, bigPagemap)) {
            List<Pagemap.Run> runs = Pagemap.parse(pm).runs();
            if (Baseline.pagemapRuns(pm) != runs.size()) throw new IllegalStateException("codecs disagree on a pagemap");
            if (!Arrays.equals(Baseline.pagemap(1, runs), Pagemap.of(1, runs).encode())) {
                throw new IllegalStateException("codecs encode a pagemap differently");
            }
        }
        if (!Arrays.equals(Baseline.patchCore(Baseline.parseCore(core), gp, xs, EPYC),
                CoreImage.parse(core).withThreadState(gp, xs, EPYC, 0).encode())) {
            throw new IllegalStateException("codecs patch a core differently");
        }
    }

    /** Mean ns per call of {@code op} over about {@code ms} milliseconds. */
    private static double measure(ToLongFunction<Void> op, long ms) {
        long n = 0, acc = 0, t0 = System.nanoTime(), deadline = t0 + ms * 1_000_000L, t;
        do {
            for (int i = 0; i < 64; i++) acc += op.applyAsLong(null);
            n += 64;
            t = System.nanoTime();
        } while (t < deadline);
        sink += acc;
        return (double) (t - t0) / n;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static String section(Map<String, double[][]> ns, int rounds, long ms) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "Measured %s by `bin/checkpointd-bench-codec` (%s), %d rounds of %d ms per codec and "
                + "operation, interleaved; median of the rounds' mean time per operation; load average %s.%n%n",
                java.time.LocalDateTime.now().withNano(0), HostInfo.machine(), rounds, ms, HostInfo.loadAverage()));
        sb.append("| operation | hand-written `ProtoMessage` | protobuf-java 4.36 | ratio |\n|---|---|---|---|\n");
        for (var e : ns.entrySet()) {
            double a = median(e.getValue()[0]), b = median(e.getValue()[1]);
            sb.append(String.format(Locale.ROOT, "| %s | %.2f µs | %.2f µs | %.2f× |%n", e.getKey(), a / 1e3, b / 1e3, b / a));
        }
        return sb.toString();
    }

    /** A pagemap of {@code runs} present runs of 1-8 pages with holes between them, as CRIU writes it. */
    private static byte[] syntheticPagemap(int runs) {
        List<Pagemap.Run> out = new ArrayList<>(runs);
        long vaddr = 0x7f00_0000_0000L;
        for (int i = 0; i < runs; i++) {
            long pages = 1 + (i * 7L) % 8;
            out.add(new Pagemap.Run(vaddr, pages, Pagemap.PE_PRESENT, -1));
            vaddr += (pages + 1 + i % 3) * Pagemap.PAGE_SIZE;
        }
        return Pagemap.of(1, out).encode();
    }

    private interface IoSupplier {
        long get() throws IOException;
    }

    private static long unchecked(IoSupplier s) {
        try {
            return s.get();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The image code of before issue #18 over {@link ProtoMessageBaseline}, as Pagemap and CoreImage had it. */
    private static final class Baseline {
        private static long pagemapRuns(byte[] image) {
            try {
                ImageFile file = ImageFile.parse(image, ImageFile.PAGEMAP_MAGIC);
                ProtoMessageBaseline.parse(file.entry(0)).findVarint(1).orElse(0);
                long n = 0, dataIndex = 0;
                for (int i = 1; i < file.entryCount(); i++) {
                    ProtoMessageBaseline m = ProtoMessageBaseline.parse(file.entry(i));
                    long vaddr = m.findVarint(1).orElse(0);
                    var nr = m.findVarint(5);
                    long pages = nr.isPresent() ? nr.getAsLong() : m.findVarint(2).orElse(0);
                    var f = m.findVarint(4);
                    int flags = f.isPresent() ? (int) f.getAsLong() : m.findVarint(3).orElse(0) != 0 ? 1 : 4;
                    if ((vaddr & 4095) != 0) throw new IOException("unaligned");
                    if ((flags & Pagemap.PE_PRESENT) != 0) dataIndex += pages;
                    n++;
                }
                return n + (dataIndex & 0);
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        private static byte[] pagemap(int pagesId, List<Pagemap.Run> runs) {
            List<byte[]> entries = new ArrayList<>(runs.size() + 1);
            ProtoMessageBaseline head = new ProtoMessageBaseline();
            head.setVarint(1, pagesId & 0xffffffffL);
            entries.add(head.encode());
            for (Pagemap.Run r : runs) {
                ProtoMessageBaseline e = new ProtoMessageBaseline();
                e.setVarint(1, r.vaddr());
                e.setVarint(2, 0);
                e.setVarint(4, r.flags() & 0xffffffffL);
                e.setVarint(5, r.nrPages());
                entries.add(e.encode());
            }
            return ImageFile.of(Pagemap.PAGEMAP_MAGIC, entries).encode();
        }

        /** The registers and the FPU state of a core (thread_info = 2: gpregs = 2, fpregs = 3: st 9, xmm 10, xsave 13). */
        private static long coreState(byte[] image, XsaveLayout layout) {
            try {
                ProtoMessageBaseline core = ProtoMessageBaseline.parse(ImageFile.parse(image, ImageFile.CORE_MAGIC).entry(0));
                core.varint(1);
                ProtoMessageBaseline ti = core.message(2), gp = ti.message(2), fp = ti.message(3), xs = fp.message(13);
                long[] regs = new long[CoreImage.GPREGS_COUNT];
                for (int i = 0; i < regs.length; i++) regs[i] = gp.varint(i + 1);
                byte[] buf = new byte[layout.size()];
                ByteBuffer b = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN);
                b.putShort(0, (short) fp.varint(1)).putShort(2, (short) fp.varint(2)).putShort(4, (short) fp.varint(3))
                        .putShort(6, (short) fp.varint(4)).putLong(8, fp.varint(5)).putLong(16, fp.varint(6))
                        .putInt(24, (int) fp.varint(7)).putInt(28, (int) fp.varint(8));
                put(b, 32, fp.repeatedVarints(9));
                put(b, 160, fp.repeatedVarints(10));
                layout.writeXcr0(buf);
                b.putLong(XsaveLayout.XSAVE_HEADER_OFFSET, xs.varint(1));
                put(b, layout.offset(XsaveLayout.XFEATURE_YMM), xs.repeatedVarints(2));
                put(b, layout.offset(XsaveLayout.XFEATURE_PKRU), xs.repeatedVarints(8));
                return regs[0] + buf[0];
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        private static ProtoMessageBaseline parseCore(byte[] image) {
            try {
                return ProtoMessageBaseline.parse(ImageFile.parse(image, ImageFile.CORE_MAGIC).entry(0));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }

        /** withThreadState of before on a parsed core: the registers, mode, FXSAVE fields, xstate_bv, AVX, PKRU, sigmask. */
        private static byte[] patchCore(ProtoMessageBaseline core, long[] regs, byte[] xstate, XsaveLayout layout) {
            ProtoMessageBaseline out = core.copy();
            ProtoMessageBaseline ti = out.message(2), gp = ti.message(2), fp = ti.message(3), xs = fp.message(13);
            for (int i = 0; i < regs.length; i++) gp.setVarint(i + 1, regs[i]);
            gp.setVarint(28, 1);
            ByteBuffer b = ByteBuffer.wrap(xstate).order(ByteOrder.LITTLE_ENDIAN);
            fp.setVarint(1, b.getShort(0) & 0xffffL);
            fp.setVarint(2, b.getShort(2) & 0xffffL);
            fp.setVarint(3, b.getShort(4) & 0xffffL);
            fp.setVarint(4, b.getShort(6) & 0xffffL);
            fp.setVarint(5, b.getLong(8));
            fp.setVarint(6, b.getLong(16));
            fp.setVarint(7, b.getInt(24) & 0xffffffffL);
            fp.setVarint(8, b.getInt(28) & 0xffffffffL);
            fp.setRepeatedVarints(9, get(b, 32, 32));
            fp.setRepeatedVarints(10, get(b, 160, 64));
            xs.setVarint(1, b.getLong(XsaveLayout.XSAVE_HEADER_OFFSET));
            xs.setRepeatedVarints(2, get(b, layout.offset(XsaveLayout.XFEATURE_YMM), 64));
            xs.setRepeatedVarints(8, get(b, layout.offset(XsaveLayout.XFEATURE_PKRU), 2)); // 8 bytes: PKRU and padding
            if (out.message(3) != null) out.message(3).setVarint(5, 0); // the leader's tc.blk_sigset
            else out.message(5).setVarint(6, 0);                        // thread_core.blk_sigset
            return ImageFile.of(ImageFile.CORE_MAGIC, List.of(out.encode())).encode();
        }

        private static void put(ByteBuffer b, int off, long[] u32) {
            for (int i = 0; i < u32.length; i++) b.putInt(off + 4 * i, (int) u32[i]);
        }

        private static long[] get(ByteBuffer b, int off, int n) {
            long[] v = new long[n];
            for (int i = 0; i < n; i++) v[i] = b.getInt(off + 4 * i) & 0xffffffffL;
            return v;
        }
    }
}
