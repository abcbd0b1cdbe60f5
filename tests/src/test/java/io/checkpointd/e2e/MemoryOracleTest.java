package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.proc.Vma;
import io.checkpointd.primary.PrimaryFaults;
import io.checkpointd.protocol.image.MmImage;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.restore.store.ImageStore;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The incremental engine's memory oracle: the demo service churns its memory and threads (heap growth and
 * shrink, mmap/munmap, a read-only page mapped again over itself with new bytes, {@code MADV_DONTNEED}, a thread
 * started every 10 ms and ended 20-120 ms later) under client
 * load at 25 ms epochs, all captured by the engine itself: after the warm-up no epoch takes a CRIU dump. At an incremental
 * epoch N the primary writes the process as it is (every present page read whole through {@code /proc/PID/mem},
 * found through the classic {@code /proc/PID/pagemap}, not the engine's tracker; the maps; and a CRIU dump of the
 * process, still frozen at that instant) and stops taking epochs. The backup's committed image of N must then be
 * that process: every private page byte-identical (absent pages read back as zeros, or as the file's bytes for
 * private file mappings), the same memory map, and the threads of CRIU's dump (pstree.img and core images) with
 * CRIU's registers (general purpose and FPU/XSAVE), signal masks and every other per-thread field (clear_tid_addr,
 * TLS, robust list, rseq, scheduling, comm...), read from both core images by {@link CoreRegisters}; among them
 * threads born since the base dump, whose cores the engine built from a template.
 */
class MemoryOracleTest extends E2eTest {
    private static final int PAGE = 4096;
    private static final String FIRST_PRECOPY_HOLD = "checkpointd.fault.firstPrecopyHoldMs";

    /**
     * {@code auto}, which must pick uffd-wp on this kernel, and {@code scan}, which compares page contents (after a
     * CRIU dump, with the dump's bytes); {@code -Dcheckpointd.oracle.trackers=...} picks others.
     */
    @ParameterizedTest
    @MethodSource("trackers")
    @Timeout(180)
    void theCommittedImageOfEpochNIsTheProcessAtEpochN(String tracker) throws Exception {
        Path oracle = Files.createDirectories(tmp.resolve("oracle"));
        Cluster.Options opts = Cluster.Options.of(tmp).withEpoch(Duration.ofMillis(25)).withServiceArgs(List.of("--churn"))
                .withProtectArgs(List.of("--engine", "incremental", "--tracker", tracker))
                .withProtectJvmArgs(protectJvmArgs(oracle));
        Path image = tmp.resolve("image");
        long n, dumpsBefore, mmBefore;
        Json primary;
        try (Cluster c = Cluster.start(opts);
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2))) {
            load.start();
            awaitEpochs(c, 10, 1, Duration.ofSeconds(90));
            // from here on every epoch sees threads born and ended (the churn): none may take a CRIU dump. (The load's
            // connections, opened before, are open-file changes, which the engine leaves to CRIU for now.)
            Json warm = c.status("primary").orElseThrow();
            dumpsBefore = criuDumps(warm);
            mmBefore = mmRebuiltEpochs(warm);
            Files.createFile(oracle.resolve("request"));
            n = awaitEpochFile(oracle.resolve("epoch"), Duration.ofSeconds(30));
            awaitCommitted(c, n, Duration.ofSeconds(30));
            primary = c.status("primary").orElseThrow();
            E2eSupport.assertNoXorBaseRejections(c);
            load.stop();
            c.killBackup();
            ImageStore store = ImageStore.open(c.storeDir());
            try {
                assertThat(store.committedEpoch()).as("the backup committed the oracle's epoch last").isEqualTo(n);
                store.materialize(image);
            } finally {
                store.close();
            }
        }
        Path truth = oracle.resolve("truth");
        String expectTracker = tracker.equals("auto") ? "uffd-wp" : tracker;
        assertThat(String.valueOf(primary.get("tracker"))).as("the tracker that ran").startsWith(expectTracker);
        String ctx = "epoch " + n + ", primary " + primary;
        // XOR compression is on by default: the image checked below was rebuilt from XOR pages too
        Object engineStats = primary.get("engineStats");
        assertThat(engineStats).as("engine stats; " + ctx).isInstanceOf(io.checkpointd.protocol.status.Json.class);
        Object xorPages = ((io.checkpointd.protocol.status.Json) engineStats).get("xorPages");
        assertThat(xorPages).as("pages shipped as XOR; " + ctx).isInstanceOf(Number.class);
        assertThat(((Number) xorPages).longValue()).as("pages shipped as XOR; " + ctx).isPositive();

        // threads: the same set as in CRIU's own dump of that instant, with the same registers (general purpose,
        // FPU/XSAVE) and signal masks; CRIU, not the engine, says what they were
        Path criuDump = truth.resolve("criu");
        TreeSet<Integer> truthThreads = coreTids(criuDump), imageThreads = coreTids(image);
        assertThat(truthThreads).as("CRIU dumped the threads at the oracle's instant; " + ctx).isNotEmpty();
        assertThat(imageThreads).as("threads (the committed image's against CRIU's dump); " + ctx).isEqualTo(truthThreads);
        List<String> regDiffs = new ArrayList<>();
        int comparedFields = 0, withXsave = 0, churnWorkers = 0;
        String churnName = java.util.HexFormat.of().formatHex("churn-worker-".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        for (int tid : truthThreads) {
            Map<String, List<String>> criu = CoreRegisters.read(criuDump.resolve("core-" + tid + ".img"));
            Map<String, List<String>> committed = CoreRegisters.read(image.resolve("core-" + tid + ".img"));
            for (String d : CoreRegisters.differences(criu, committed)) regDiffs.add("thread " + tid + " " + d);
            comparedFields += criu.size();
            if (criu.containsKey("fpregs.xmm_space") && criu.containsKey("fpregs.xsave.xstate_bv")) withXsave++;
            if (criu.getOrDefault("thread_core.comm", List.of("")).get(0).startsWith(churnName)) churnWorkers++;
        }
        // the churn starts a thread every 10 ms that lives at most 120 ms: those in the oracle's epoch were born after
        // the only CRIU dump (asserted below), so their cores are the engine's own
        assertThat(churnWorkers).as("churn workers (threads born since the base) compared; " + ctx).isPositive();
        assertThat(pstreeThreads(image)).as("pstree.img's threads (the committed image's against CRIU's dump); " + ctx)
                .isEqualTo(pstreeThreads(criuDump));
        assertThat(criuDumps(primary)).as("CRIU dumps after epoch 10, under thread churn every epoch; " + ctx).isEqualTo(dumpsBefore);
        // and under mapping churn every epoch (mmap, mprotect, munmap, the brk heap, thread stacks): mm.img the engine's
        assertThat(mmRebuiltEpochs(primary)).as("epochs whose memory map the engine rebuilt, after epoch 10; " + ctx).isGreaterThan(mmBefore);
        Json reasons = (Json) ((Json) engineStats).get("criuDumpReasons");
        assertThat(reasons.fields().keySet()).as("CRIU dump reasons; " + ctx).doesNotContain("threads changed", "thread not modelled",
                "thread exiting", "memory map changed");
        // with -Dcheckpointd.oracle.protectJvm=-Dcheckpointd.first-precopy=true (off by default: 4 stale thread-stack
        // pages once in CI with it on) the base is the pre-copied first epoch where CRIU can leave pages out: some
        // pages copied while the service ran and were written before the freeze (CRIU dumped those), most kept from
        // the copy; the pages compared below not written since come from that copy
        boolean precopyOn = System.getProperty("checkpointd.oracle.protectJvm", "").contains("-Dcheckpointd.first-precopy=true");
        if (precopyOn && Criu.locate().canSkipPages() && expectTracker.equals("uffd-wp")) {
            Object first = ((Json) engineStats).get("firstPrecopy");
            assertThat(first).as("the first epoch was pre-copied; " + ctx).isInstanceOf(Json.class);
            long copied = ((Number) ((Json) first).get("copiedBytes")).longValue(), kept = ((Number) ((Json) first).get("keptBytes")).longValue();
            assertThat(kept).as("pre-copied bytes kept; " + ctx).isPositive().isLessThan(copied);
            // the service wrote to copied pages during the hold after the copy: copied again before the freeze
            assertThat(((Number) ((Json) first).get("recopiedBytes")).longValue()).as("pre-copied bytes copied again; " + ctx).isPositive();
        }
        assertThat(withXsave).as("CRIU's dump has every thread's FPU/XSAVE state to compare; " + ctx).isEqualTo(truthThreads.size());
        assertThat(regDiffs).as("registers and signal masks, CRIU's dump vs the committed image (%d threads, %d fields); %s",
                truthThreads.size(), comparedFields, ctx).isEmpty();

        // the clocks the restored process continues from (timens-0.img): this epoch's, as CRIU's dump of the same
        // instant has them, not the base dump's (seconds earlier)
        long clockDiff = Math.abs(monotonicNanos(image) - monotonicNanos(criuDump));
        assertThat(clockDiff).as("timens monotonic clock, the committed image's against CRIU's dump (ns); " + ctx).isLessThan(1_000_000_000L);

        // the memory map: every address the process had mapped is mapped in the image with the same protection
        List<Vma> maps = new ArrayList<>();
        for (String line : Files.readAllLines(truth.resolve("maps"))) if (!line.isBlank()) maps.add(Vma.parse(line));
        int pid = pidOfImage(image);
        List<MmImage.Vma> vmas = MmImage.parse(Files.readAllBytes(image.resolve("mm-" + pid + ".img"))).vmas();
        assertThat(coverage(vmas)).as("the image's memory map; " + ctx).isEqualTo(coverageOfMaps(maps));
        // the program break: CRIU reads it exactly (brk(0) in the process), the engine as the heap's end, its page
        MmImage criuMm = MmImage.parse(Files.readAllBytes(criuDump.resolve("mm-" + pid + ".img")));
        MmImage imageMm = MmImage.parse(Files.readAllBytes(image.resolve("mm-" + pid + ".img")));
        assertThat(imageMm.brk()).as("mm_brk, the committed image's against CRIU's dump rounded to its page; " + ctx)
                .isEqualTo((criuMm.brk() + PAGE - 1) & -PAGE);
        assertThat(imageMm.startBrk()).as("mm_start_brk; " + ctx).isEqualTo(criuMm.startBrk());

        // every private page
        Pagemap pm = Pagemap.parse(Files.readAllBytes(image.resolve("pagemap-" + pid + ".img")));
        Map<Long, Long> imagePages = new HashMap<>();
        pm.forEachPresentPage(imagePages::put);
        Map<Long, byte[]> truthPages = readTruthMemory(truth.resolve("memory"));
        List<String> mismatches = new ArrayList<>();
        try (RandomAccessFile pages = new RandomAccessFile(image.resolve(pm.pagesFileName()).toFile(), "r")) {
            TreeSet<Long> all = new TreeSet<>(imagePages.keySet());
            all.addAll(truthPages.keySet());
            byte[] buf = new byte[PAGE];
            for (long va : all) {
                Vma v = vmaAt(maps, va);
                if (v == null || !v.isPrivate() || (v.isSpecial() && !v.path().equals("[vdso]"))) {
                    if (imagePages.containsKey(va)) mismatches.add(String.format("0x%x: in the image, not in a private VMA", va));
                    continue;
                }
                boolean deleted = v.path().endsWith(" (deleted)");
                if (deleted && !(truthPages.containsKey(va) && imagePages.containsKey(va))) continue; // its file is gone
                byte[] expected = truthPages.containsKey(va) ? truthPages.get(va) : backing(v, va);
                byte[] restored;
                if (imagePages.containsKey(va)) {
                    pages.seek(imagePages.get(va) * PAGE);
                    pages.readFully(buf);
                    restored = buf.clone();
                } else {
                    restored = backing(v, va);
                }
                if (!Arrays.equals(expected, restored)) {
                    mismatches.add(String.format("0x%x in %s: %s%s", va, v, imagePages.containsKey(va) ? "image page differs" : "missing from the image",
                            firstDifference(expected, restored)));
                }
            }
        }
        for (Vma v : maps) {
            if (v.length() != 8 << 20) continue;
            long ti = truthPages.keySet().stream().filter(v::contains).count(), ii = imagePages.keySet().stream().filter(v::contains).count();
            long tz = truthPages.entrySet().stream().filter(e -> v.contains(e.getKey()) && Arrays.equals(e.getValue(), new byte[PAGE])).count();
            System.out.printf("8 MiB VMA %s: %d truth pages (%d zero), %d image pages%n", v, ti, tz, ii);
        }
        long onlyImage = imagePages.keySet().stream().filter(va -> !truthPages.containsKey(va)).count();
        long onlyTruth = truthPages.keySet().stream().filter(va -> !imagePages.containsKey(va)).count();
        System.out.printf("memory oracle, epoch %d: %d threads' registers (%d fields), %d VMAs, %d truth pages and %d image pages compared"
                + " (%d only in the image, %d only present in the process); %s%n", n, truthThreads.size(), comparedFields, maps.size(), truthPages.size(),
                imagePages.size(), onlyImage, onlyTruth, primary.get("engineStats"));
        assertThat(mismatches).as("pages of epoch %d that differ (%d truth pages, %d image pages); %s", n, truthPages.size(),
                imagePages.size(), ctx).isEmpty();
    }

    /** The oracle fault point, plus {@code -Dcheckpointd.oracle.protectJvm=-Da=1,-Db=2} to compare engine switches. */
    private static List<String> protectJvmArgs(Path oracle) {
        List<String> a = new java.util.ArrayList<>(List.of("-D" + PrimaryFaults.ORACLE_DIR_PROPERTY + "=" + oracle,
                // the first epoch's pre-copy: the churning service runs 300 ms after the copy, writing to copied pages
                "-D" + FIRST_PRECOPY_HOLD + "=300"));
        String extra = System.getProperty("checkpointd.oracle.protectJvm", "").trim();
        if (!extra.isEmpty()) a.addAll(List.of(extra.split(",")));
        return a;
    }

    static List<String> trackers() {
        return List.of(System.getProperty("checkpointd.oracle.trackers", "auto,scan").split(","));
    }

    /** Where two pages first differ: the offset and the 8-byte words there (little-endian), process's then image's. */
    private static String firstDifference(byte[] process, byte[] image) {
        int i = Arrays.mismatch(process, image) & -8;
        java.nio.ByteBuffer p = java.nio.ByteBuffer.wrap(process).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        java.nio.ByteBuffer m = java.nio.ByteBuffer.wrap(image).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return String.format(" (at +0x%x: process %d, image %d)", i, p.getLong(i), m.getLong(i));
    }

    /** What a page not in the image reads as after a restore: zeros, or the mapped file's bytes. */
    private static byte[] backing(Vma v, long va) throws IOException {
        byte[] b = new byte[PAGE];
        if (v.inode() == 0 || !v.path().startsWith("/")) return b;
        try (RandomAccessFile f = new RandomAccessFile(v.path(), "r")) {
            long off = v.offset() + (va - v.start());
            if (off < f.length()) {
                f.seek(off);
                f.read(b, 0, (int) Math.min(PAGE, f.length() - off));
            }
        }
        return b;
    }

    private static Vma vmaAt(List<Vma> maps, long va) {
        for (Vma v : maps) if (v.contains(va)) return v;
        return null;
    }

    /** Address → protection, as merged runs "start-end:prot", of the image's VMAs. */
    private static List<String> coverage(List<MmImage.Vma> vmas) {
        List<long[]> rs = new ArrayList<>();
        for (MmImage.Vma v : vmas) {
            if (Long.compareUnsigned(v.start(), 0xffffffffff600000L) >= 0) continue; // [vsyscall]
            rs.add(new long[] {v.start(), v.end(), v.prot()});
        }
        return merge(rs);
    }

    private static List<String> coverageOfMaps(List<Vma> maps) {
        List<long[]> rs = new ArrayList<>();
        for (Vma v : maps) {
            if (v.path().equals("[vsyscall]")) continue;
            int prot = (v.isReadable() ? 1 : 0) | (v.isWritable() ? 2 : 0) | (v.isExecutable() ? 4 : 0);
            rs.add(new long[] {v.start(), v.end(), prot});
        }
        return merge(rs);
    }

    private static List<String> merge(List<long[]> rs) {
        rs.sort((a, b) -> Long.compare(a[0], b[0]));
        List<String> out = new ArrayList<>();
        long s = -1, e = -1, p = -1;
        for (long[] r : rs) {
            if (r[0] == e && r[2] == p) {
                e = r[1];
                continue;
            }
            if (s >= 0) out.add(Long.toHexString(s) + "-" + Long.toHexString(e) + ":" + p);
            s = r[0];
            e = r[1];
            p = r[2];
        }
        if (s >= 0) out.add(Long.toHexString(s) + "-" + Long.toHexString(e) + ":" + p);
        return out;
    }

    private static Map<Long, byte[]> readTruthMemory(Path file) throws IOException {
        Map<Long, byte[]> m = new HashMap<>();
        try (DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(Files.newInputStream(file), 1 << 20))) {
            while (true) {
                long va;
                try {
                    va = in.readLong();
                } catch (EOFException e) {
                    return m;
                }
                byte[] p = new byte[PAGE];
                in.readFully(p);
                m.put(va, p);
            }
        }
    }

    /** {@code timens-0.img}'s monotonic clock (timens_entry.monotonic = 1: tv_sec 1, tv_nsec 2), decoded by the test. */
    private static long monotonicNanos(Path dir) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("timens-0.img"))).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.position(12);
        while (b.hasRemaining()) {
            long key = varint(b);
            int len = (int) varint(b);
            java.nio.ByteBuffer m = b.slice(b.position(), len);
            b.position(b.position() + len);
            if ((key >>> 3) != 1) continue;
            long sec = 0, nsec = 0;
            while (m.hasRemaining()) {
                long k = varint(m), v = varint(m);
                if ((k >>> 3) == 1) sec = v;
                else if ((k >>> 3) == 2) nsec = v;
            }
            return sec * 1_000_000_000L + nsec;
        }
        throw new IOException(dir + "/timens-0.img has no monotonic clock");
    }

    /** The threads of {@code pstree.img}'s process entries, sorted, decoded by the test (pstree_entry.threads = 5). */
    private static TreeSet<Integer> pstreeThreads(Path dir) throws IOException {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(dir.resolve("pstree.img"))).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.position(8);
        TreeSet<Integer> out = new TreeSet<>();
        while (b.remaining() >= 4) {
            int n = b.getInt();
            java.nio.ByteBuffer e = b.slice(b.position(), n);
            b.position(b.position() + n);
            while (e.hasRemaining()) {
                long key = varint(e);
                int wire = (int) (key & 7);
                if (wire == 0) {
                    long v = varint(e);
                    if ((key >>> 3) == 5) out.add((int) v);
                } else if (wire == 2) {
                    int len = (int) varint(e);
                    java.nio.ByteBuffer p = e.slice(e.position(), len);
                    e.position(e.position() + len);
                    if ((key >>> 3) == 5) while (p.hasRemaining()) out.add((int) varint(p));
                } else {
                    throw new IOException("pstree.img: wire type " + wire);
                }
            }
        }
        return out;
    }

    private static long varint(java.nio.ByteBuffer b) {
        long v = 0;
        for (int shift = 0; ; shift += 7) {
            int x = b.get() & 0xff;
            v |= (long) (x & 0x7f) << shift;
            if ((x & 0x80) == 0) return v;
        }
    }

    /** The thread ids of an image directory's core images. */
    private static TreeSet<Integer> coreTids(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            TreeSet<Integer> tids = new TreeSet<>();
            s.map(p -> p.getFileName().toString()).filter(x -> x.startsWith("core-") && x.endsWith(".img"))
                    .forEach(x -> tids.add(Integer.parseInt(x.substring(5, x.length() - 4))));
            return tids;
        }
    }

    private static int pidOfImage(Path image) throws IOException {
        try (var s = Files.list(image)) {
            return s.map(p -> p.getFileName().toString()).filter(x -> x.startsWith("mm-") && x.endsWith(".img"))
                    .map(x -> Integer.parseInt(x.substring(3, x.length() - 4))).findFirst().orElseThrow();
        }
    }

    private static long mmRebuiltEpochs(Json primary) {
        return ((Number) ((Json) primary.get("engineStats")).get("mmRebuiltEpochs")).longValue();
    }

    private static long criuDumps(Json primary) {
        return ((Number) ((Json) primary.get("engineStats")).get("criuDumps")).longValue();
    }

    /** Waits until the engine took {@code incremental} epochs of its own and {@code dumps} CRIU dumps. */
    private static void awaitEpochs(Cluster c, long incremental, long dumps, Duration max) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            Json p = c.status("primary").orElse(null);
            if (p != null && p.get("engineStats") instanceof Json st && st.get("incrementalEpochs") != null
                    && ((Number) st.get("incrementalEpochs")).longValue() >= incremental
                    && ((Number) st.get("criuDumps")).longValue() >= dumps) {
                return;
            }
            if (System.nanoTime() > deadline) throw new AssertionError("the engine did not take " + incremental
                    + " incremental epochs and " + dumps + " CRIU dumps in " + max + ": " + p);
            Thread.sleep(50);
        }
    }

    private static long awaitEpochFile(Path f, Duration max) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        while (!Files.exists(f)) {
            if (System.nanoTime() > deadline) throw new AssertionError("the primary took no oracle snapshot in " + max);
            Thread.sleep(20);
        }
        Thread.sleep(20);
        return Long.parseLong(Files.readString(f).trim());
    }

    private static void awaitCommitted(Cluster c, long n, Duration max) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            Json b = c.status("backup").orElse(null);
            if (b != null && ((Number) b.fields().get("committedEpoch")).longValue() >= n) return;
            if (System.nanoTime() > deadline) throw new AssertionError("the backup did not commit epoch " + n + ": " + b);
            Thread.sleep(20);
        }
    }
}
