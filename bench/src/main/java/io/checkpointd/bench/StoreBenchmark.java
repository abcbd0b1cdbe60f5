package io.checkpointd.bench;

import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.restore.store.PlanProbe;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The backup store's per-epoch cost on a large image, without CRIU or a network: a synthetic 1 GiB image
 * (262,144 present pages; its pages file is sparse, so nothing is written), then epochs of ~1,000 changed pages
 * whose pagemap changes every time (pages appear and disappear, runs split and merge), each committed through the
 * store's plan work (index the records, verify every present page has data, apply, manifest). Prints per-epoch
 * commit time p50/p99/max, bytes allocated per epoch, and the live heap of the plans.
 *
 * <pre>
 * java -cp ... io.checkpointd.bench.StoreBenchmark [--epochs 400] [--warmup 40] [--pages 262144] [--changed 1000]
 *     [--clustered 0.7] [--seed 1]
 * </pre>
 */
public final class StoreBenchmark {
    private static final long VBASE = 0x7f0000000000L;
    private static final String PAGEMAP = "pagemap-1.img";

    private final int span; // page slots of the address range the image lives in
    private final BitSet present = new BitSet();
    private final Random rnd;
    private final int target;
    private int window; // the "young generation" being written, advancing every epoch

    private StoreBenchmark(int pages, long seed) {
        this.rnd = new Random(seed);
        this.target = pages;
        this.span = pages * 2;
        // three quarters in one heap run, the rest in 256 small mappings (libraries, stacks, metaspace) with gaps
        int heap = pages / 4 * 3;
        present.set(0, heap);
        int rest = pages - heap, small = Math.max(1, rest / 256), stride = (span - heap) / 256;
        for (int i = 0; i < 256 && rest > 0; i++) {
            int n = i == 255 ? rest : Math.min(small, rest);
            present.set(heap + i * stride, heap + i * stride + n);
            rest -= n;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) opt.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        int epochs = Integer.parseInt(opt.getOrDefault("epochs", "400"));
        int warmup = Integer.parseInt(opt.getOrDefault("warmup", "40"));
        int pages = Integer.parseInt(opt.getOrDefault("pages", "262144"));
        int changed = Integer.parseInt(opt.getOrDefault("changed", "1000"));
        long seed = Long.parseLong(opt.getOrDefault("seed", "1"));
        double clustered = Double.parseDouble(opt.getOrDefault("clustered", "0.7"));
        Path shm = Path.of("/dev/shm");
        Path dir = Files.createTempDirectory(Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir")), "storebench");
        String loadBefore = HostInfo.loadAverage();
        try {
            new StoreBenchmark(pages, seed).run(dir, epochs, warmup, changed, clustered);
            System.out.printf(Locale.ROOT, "machine: %d CPUs, Java %s; load average %s before, %s after%n",
                    Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), loadBefore, HostInfo.loadAverage());
        } finally {
            ImageDirs.deleteTree(dir);
        }
    }

    private void run(Path dir, int epochs, int warmup, int changed, double clustered) throws Exception {
        Path base = dir.resolve("base-0");
        Files.createDirectories(base);
        Files.write(base.resolve(PAGEMAP), pagemap());
        Files.write(base.resolve("inventory.img"), new byte[] {1, 2, 3});
        try (RandomAccessFile f = new RandomAccessFile(base.resolve("pages-1.img").toFile(), "rw")) {
            f.setLength((long) present.cardinality() * Pagemap.PAGE_SIZE); // sparse: no data written
        }
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long heap0 = liveHeap();
        long b0 = System.nanoTime();
        PlanProbe probe = new PlanProbe(base);
        long baseNanos = System.nanoTime() - b0;
        long heapBase = liveHeap() - heap0;
        for (int i = 0; i < 4; i++) new PlanProbe(base); // warm the base-plan path up, then time it again
        b0 = System.nanoTime();
        new PlanProbe(base);
        long baseWarmNanos = System.nanoTime() - b0;
        long gcCount0 = 0, gcMillis0 = 0;

        int total = warmup + epochs;
        long[] nanos = new long[epochs], cpu = new long[epochs], alloc = new long[epochs];
        long newlyPresent = 0, gone = 0, changedPages = 0;
        Object snapshot = null;
        Map<Integer, byte[]> data = new HashMap<>();
        for (int e = 1; e <= total; e++) {
            int before = present.cardinality();
            BitSet was = (BitSet) present.clone();
            evolvePresence();
            BitSet fresh = (BitSet) present.clone();
            fresh.andNot(was);
            BitSet dirty = (BitSet) fresh.clone();
            for (int i = 0; i < (int) (changed * clustered) && dirty.cardinality() < changed; i++) {
                int p = (window + i) % (target / 4 * 3);
                if (present.get(p)) dirty.set(p);
            }
            window = (window + changed / 2) % (target / 4 * 3);
            while (dirty.cardinality() < changed) {
                int p = rnd.nextInt(span);
                if (present.get(p)) dirty.set(p);
            }
            List<EpochRecord> records = new ArrayList<>();
            byte[] pm = pagemap();
            records.add(new EpochRecord.FileChunk(PAGEMAP, pm.length, 0, pm));
            byte[] core = new byte[2000 + rnd.nextInt(100)];
            records.add(new EpochRecord.FileChunk("core-" + (100 + rnd.nextInt(4)) + ".img", core.length, 0, core));
            long[] vaddrs = dirty.stream().mapToLong(p -> VBASE + (long) p * Pagemap.PAGE_SIZE).toArray();
            for (int i = 0; i < vaddrs.length; i += EpochRecord.MAX_PAGES) {
                long[] part = Arrays.copyOfRange(vaddrs, i, Math.min(vaddrs.length, i + EpochRecord.MAX_PAGES));
                byte[] pagesData = data.computeIfAbsent(part.length, n -> new byte[n * Pagemap.PAGE_SIZE]);
                records.add(new EpochRecord.PageDelta(PAGEMAP, part, pagesData));
            }
            Path logFile = dir.resolve("log/epoch-" + e + ".d");

            long a0 = threads.getCurrentThreadAllocatedBytes();
            long c0 = threads.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            Map<String, Long> manifest = probe.commit(logFile, e, records);
            long t1 = System.nanoTime();
            long c1 = threads.getCurrentThreadCpuTime();
            long a1 = threads.getCurrentThreadAllocatedBytes();

            long expect = (long) present.cardinality() * Pagemap.PAGE_SIZE;
            if (manifest.get("pages-1.img") != expect) throw new IllegalStateException("epoch " + e + ": manifest " + manifest);
            if (e == warmup) {
                for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                    gcCount0 += gc.getCollectionCount();
                    gcMillis0 += gc.getCollectionTime();
                }
            }
            if (e > warmup) {
                nanos[e - warmup - 1] = t1 - t0;
                cpu[e - warmup - 1] = c1 - c0;
                alloc[e - warmup - 1] = a1 - a0;
                newlyPresent += fresh.cardinality();
                was.andNot(present);
                gone += was.cardinality();
                changedPages += vaddrs.length;
            }
            if (e % 32 == 0) snapshot = probe.snapshot(); // the compactor's snapshot, kept while epochs commit
        }
        int sinceSnapshot = total % 32;
        long[] rebase = null;
        for (int i = 0; i < 15; i++) { // the best of 15 runs
            long[] r = probe.timeRebase(snapshot, dir.resolve("base-new"));
            if (r == null) break;
            if (rebase == null) rebase = r;
            rebase[0] = Math.min(rebase[0], r[0]);
            rebase[1] = Math.min(rebase[1], r[1]);
        }
        long gcCount = -gcCount0, gcMillis = -gcMillis0;
        for (var gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcCount += gc.getCollectionCount();
            gcMillis += gc.getCollectionTime();
        }
        long heapEnd = liveHeap() - heap0;
        // for scale, what every epoch costs the store besides the plan, proportional to the delta: SHA-256 of its pages
        java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
        byte[] payload = new byte[changed * Pagemap.PAGE_SIZE];
        long[] shaNanos = new long[50];
        for (int i = 0; i < shaNanos.length; i++) {
            long s0 = System.nanoTime();
            md.update(payload);
            md.digest();
            shaNanos[i] = System.nanoTime() - s0;
        }
        Arrays.sort(shaNanos);
        if (snapshot == null) throw new IllegalStateException();

        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        long[] c = cpu.clone();
        Arrays.sort(c);
        long[] a = alloc.clone();
        Arrays.sort(a);
        System.out.printf(Locale.ROOT, "image: %d present pages (%.0f MiB), %d pagemap runs; %d measured epochs after %d warm-up%n",
                present.cardinality(), present.cardinality() / 256.0, runs(), epochs, warmup);
        System.out.printf(Locale.ROOT, "per epoch: %.0f changed pages (%.0f%% in a moving window, the rest at random), %.1f newly present, %.1f no longer present (mean)%n",
                changedPages / (double) epochs, clustered * 100, newlyPresent / (double) epochs, gone / (double) epochs);
        System.out.printf(Locale.ROOT, "commit (index + verify + apply + manifest): p50 %.3f ms, p99 %.3f ms, max %.3f ms, mean %.3f ms%n",
                pct(sorted, 50) / 1e6, pct(sorted, 99) / 1e6, sorted[sorted.length - 1] / 1e6, Arrays.stream(nanos).average().orElse(0) / 1e6);
        System.out.printf(Locale.ROOT, "  of which CPU time of the committing thread (waits for a CPU and GC threads excluded): p50 %.3f ms, p99 %.3f ms%n",
                pct(c, 50) / 1e6, pct(c, 99) / 1e6);
        System.out.printf(Locale.ROOT, "allocated per epoch: p50 %.2f MB, mean %.2f MB%n",
                pct(a, 50) / 1e6, Arrays.stream(alloc).average().orElse(0) / 1e6);
        System.out.printf(Locale.ROOT, "GC during the measured epochs: %d collections, %d ms%n", gcCount, gcMillis);
        System.out.printf(Locale.ROOT, "plan of the base image (ImagePlan.ofBase: store open): %.1f ms cold, %.1f ms warm%n",
                baseNanos / 1e6, baseWarmNanos / 1e6);
        if (rebase == null) {
            System.out.println("end of a compaction: this store rebuilds the plan of the new base and re-reads the log under the lock");
        } else {
            System.out.printf(Locale.ROOT, "end of a compaction, %d epochs after its snapshot (best of 15): relocate the snapshot %.1f ms (outside the lock), rebase the plan %.2f ms (under it)%n",
                    sinceSnapshot, rebase[0] / 1e6, rebase[1] / 1e6);
        }
        System.out.printf(Locale.ROOT, "for scale: SHA-256 of one epoch's %d pages (the digest check): p50 %.2f ms%n",
                changed, shaNanos[shaNanos.length / 2] / 1e6);
        System.out.printf(Locale.ROOT, "live heap after GC: base plan %.1f MB; committed plan + a 32-epoch-old snapshot %.1f MB%n",
                heapBase / 1e6, heapEnd / 1e6);
        java.lang.ref.Reference.reachabilityFence(snapshot);
        java.lang.ref.Reference.reachabilityFence(probe);
    }

    /** Pages appear (new mappings, holes filled, runs merging) and disappear (holes punched, runs splitting). */
    private void evolvePresence() {
        int appear = 1 + rnd.nextInt(3), vanish = 1 + rnd.nextInt(2);
        if (present.cardinality() > target) appear--;
        else vanish--;
        for (int i = 0; i < appear; i++) {
            int p = rnd.nextInt(span), n = 1 + rnd.nextInt(64);
            present.set(p, Math.min(span, p + n));
        }
        for (int i = 0; i < vanish; i++) {
            int p = rnd.nextInt(span), n = 1 + rnd.nextInt(32);
            present.clear(p, Math.min(span, p + n));
        }
    }

    private int runs() {
        int n = 0;
        for (int p = present.nextSetBit(0); p >= 0; p = present.nextSetBit(present.nextClearBit(p))) n++;
        return n;
    }

    private static long pct(long[] sorted, int p) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * p / 100.0) - 1)];
    }

    private static long liveHeap() {
        for (int i = 0; i < 3; i++) System.gc();
        Runtime rt = Runtime.getRuntime();
        return rt.totalMemory() - rt.freeMemory();
    }

    /** The image's pagemap in CRIU's format: one PE_PRESENT entry per run of present pages. */
    private byte[] pagemap() {
        List<Pagemap.Run> runs = new ArrayList<>();
        for (int p = present.nextSetBit(0); p >= 0; ) {
            int end = present.nextClearBit(p);
            runs.add(new Pagemap.Run(VBASE + (long) p * Pagemap.PAGE_SIZE, end - p, Pagemap.PE_PRESENT, -1));
            p = present.nextSetBit(end);
        }
        return Pagemap.of(1, runs).encode();
    }
}
