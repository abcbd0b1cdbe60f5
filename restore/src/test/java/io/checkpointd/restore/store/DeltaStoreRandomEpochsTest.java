package io.checkpointd.restore.store;

import static io.checkpointd.restore.store.StoreAssertions.assertSameImage;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random epochs through the store's incremental page tables: pages appear, disappear, come back and change;
 * pagemap runs split and merge; files, pages files and whole pagemaps are deleted and recreated; a full sync and
 * compactions happen on the way. The reference model is the image itself (what CRIU would have written): the
 * committed image, materialized at many epochs and after reopening (log replay), must equal it byte for byte, and
 * an epoch that omits a page which became present again must be rejected.
 */
class DeltaStoreRandomEpochsTest {
    @TempDir
    Path tmp;

    @Test
    void randomEpochsMaterializeLikeTheReferenceModel() throws Exception {
        for (long seed : new long[] {1, 2, 3}) {
            run(seed, tmp.resolve("seed-" + seed));
        }
    }

    private void run(long seed, Path root) throws Exception {
        Random rnd = new Random(seed);
        Model img = new Model();
        Path storeDir = root.resolve("store");
        ImageStore store = ImageStore.open(storeDir);
        Path prev = null;
        int rejected = 0, reappeared = 0;
        for (int epoch = 1; epoch <= 110; epoch++) {
            List<Long> back = img.evolve(rnd);
            Path cur = root.resolve("primary-" + epoch);
            img.write(cur);
            boolean full = prev == null || epoch == 57;
            List<EpochRecord> records = new ArrayList<>();
            DeltaComputer.Result r = DeltaComputer.compute(full ? null : prev, cur, records::add);
            if (!full && !back.isEmpty()) {
                reappeared++;
                // the same epoch without the data of one page that came back: its old data must not be reused
                long omit = back.get(rnd.nextInt(back.size()));
                List<byte[]> bad = withoutPage(records, omit);
                long before = store.committedEpoch();
                long e = epoch;
                ImageStore s = store;
                assertThatThrownBy(() -> DeltaStoreRoundTripTest.commit(s, 1, e, e - 1, bad,
                        new DeltaComputer.Result(r.manifest(), r.imageBytes(), r.changedPages(), r.shippedFileBytes(), bad.size())))
                        .isInstanceOf(EpochRejectedException.class).hasMessageContaining("no data for page 0x" + Long.toHexString(omit));
                assertThat(store.committedEpoch()).isEqualTo(before);
                rejected++;
            }
            List<byte[]> payloads = records.stream().map(EpochRecord::encode).toList();
            DeltaStoreRoundTripTest.commit(store, 1, epoch, full ? EpochBegin.FULL : epoch - 1, payloads, r);
            assertThat(store.committedEpoch()).isEqualTo(epoch);
            if (epoch % 5 == 0 || full) assertSameImage(store, cur, "seed " + seed + " epoch " + epoch);
            if (epoch % 13 == 0) {
                store.close();
                store = ImageStore.open(storeDir); // replay of the log, as after a crash
                assertSameImage(store, cur, "seed " + seed + " epoch " + epoch + " reopened");
            }
            if (prev != null) ImageDirs.deleteTree(prev);
            prev = cur;
        }
        store.close();
        store = ImageStore.open(storeDir);
        assertSameImage(store, prev, "seed " + seed + " reopened at the end");
        store.close();
        assertThat(rejected).as("epochs with a page coming back").isGreaterThan(5);
        assertThat(reappeared).isEqualTo(rejected);
    }

    /** The payloads of {@code records} with page {@code vaddr} left out of its page delta. */
    private static List<byte[]> withoutPage(List<EpochRecord> records, long vaddr) {
        List<byte[]> out = new ArrayList<>();
        boolean found = false;
        for (EpochRecord rec : records) {
            if (rec instanceof EpochRecord.PageDelta p) {
                int i = 0;
                while (i < p.vaddrs().length && p.vaddrs()[i] != vaddr) i++;
                if (i < p.vaddrs().length) {
                    found = true;
                    long[] v = new long[p.vaddrs().length - 1];
                    byte[] d = new byte[v.length * Pagemap.PAGE_SIZE];
                    System.arraycopy(p.vaddrs(), 0, v, 0, i);
                    System.arraycopy(p.vaddrs(), i + 1, v, i, v.length - i);
                    System.arraycopy(p.pages(), 0, d, 0, i * Pagemap.PAGE_SIZE);
                    System.arraycopy(p.pages(), (i + 1) * Pagemap.PAGE_SIZE, d, i * Pagemap.PAGE_SIZE, d.length - i * Pagemap.PAGE_SIZE);
                    rec = new EpochRecord.PageDelta(p.pagemapName(), v, d);
                }
            }
            out.add(rec.encode());
        }
        assertThat(found).as("page 0x%x is in the delta", vaddr).isTrue();
        return out;
    }

    /** The reference: a CRIU-like image of several memory owners (pagemap + pages file each) and opaque files. */
    static final class Model {
        /** pagemap name → (vaddr → page) of its present pages. */
        final TreeMap<String, TreeMap<Long, byte[]>> memory = new TreeMap<>();
        final TreeMap<String, Integer> pagesIds = new TreeMap<>();
        final TreeMap<String, byte[]> files = new TreeMap<>();
        /** Pages that left each pagemap, candidates to come back. */
        final TreeMap<String, List<Long>> gone = new TreeMap<>();
        int nextPagesId = 1;

        private static final long[] AREAS = {0x7f0000000000L, 0x7f0040000000L - 0x20000L, 0x555500000000L};

        /** One epoch of changes; returns the pages that came back after having left. */
        List<Long> evolve(Random rnd) {
            List<Long> back = new ArrayList<>();
            if (memory.isEmpty() || rnd.nextInt(12) == 0) {
                String name = "pagemap-" + (100 + rnd.nextInt(3)) + ".img";
                if (!memory.containsKey(name)) {
                    memory.put(name, new TreeMap<>());
                    pagesIds.put(name, nextPagesId++);
                    gone.put(name, new ArrayList<>());
                }
            }
            for (var e : memory.entrySet()) {
                TreeMap<Long, byte[]> pages = e.getValue();
                List<Long> left = gone.get(e.getKey());
                if (pages.size() < 40 || rnd.nextInt(3) == 0) { // a run appears, possibly next to or over others
                    long start = AREAS[rnd.nextInt(AREAS.length)] + (long) rnd.nextInt(96) * Pagemap.PAGE_SIZE;
                    int n = 1 + rnd.nextInt(24);
                    for (int i = 0; i < n; i++) pages.putIfAbsent(start + (long) i * Pagemap.PAGE_SIZE, page(rnd));
                }
                Long[] keys = pages.keySet().toArray(new Long[0]);
                for (int i = 0; i < rnd.nextInt(15); i++) pages.put(keys[rnd.nextInt(keys.length)], page(rnd));
                List<Long> cameBack = new ArrayList<>();
                if (!left.isEmpty() && rnd.nextInt(2) == 0) { // pages absent last epoch come back, some all zero
                    for (int i = 0; i < 1 + rnd.nextInt(4) && !left.isEmpty(); i++) {
                        long v = left.remove(rnd.nextInt(left.size()));
                        if (pages.containsKey(v)) continue;
                        pages.put(v, rnd.nextBoolean() ? new byte[Pagemap.PAGE_SIZE] : page(rnd));
                        cameBack.add(v);
                    }
                }
                if (rnd.nextInt(3) == 0) { // a hole is punched: a run splits or shrinks
                    int at = rnd.nextInt(keys.length), n = 1 + rnd.nextInt(6);
                    for (int i = at; i < Math.min(keys.length, at + n); i++) {
                        pages.remove(keys[i]);
                        left.add(keys[i]);
                    }
                }
                cameBack.removeIf(v -> !pages.containsKey(v));
                back.addAll(cameBack);
                if (rnd.nextInt(15) == 0) pagesIds.put(e.getKey(), nextPagesId++);
            }
            if (memory.size() > 1 && rnd.nextInt(15) == 0) { // a memory owner goes away (its pagemap and pages)
                String victim = memory.firstKey();
                memory.remove(victim);
                pagesIds.remove(victim);
                gone.remove(victim);
                back.clear(); // keep the rejection check simple in epochs that drop an owner
            }
            if (rnd.nextInt(3) == 0) {
                byte[] b = new byte[rnd.nextInt(3000)];
                rnd.nextBytes(b);
                files.put("core-" + (100 + rnd.nextInt(5)) + ".img", b);
            }
            if (rnd.nextInt(5) == 0 && !files.isEmpty()) files.remove(files.firstKey());
            files.putIfAbsent("inventory.img", new byte[] {1, 2, 3});
            return back;
        }

        void write(Path dir) throws IOException {
            Files.createDirectories(dir);
            for (var e : files.entrySet()) Files.write(dir.resolve(e.getKey()), e.getValue());
            for (var e : memory.entrySet()) {
                int pagesId = pagesIds.get(e.getKey());
                ByteArrayOutputStream pm = new ByteArrayOutputStream();
                pm.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(Pagemap.IMG_COMMON_MAGIC).putInt(Pagemap.PAGEMAP_MAGIC).array());
                ByteArrayOutputStream head = new ByteArrayOutputStream();
                PagemapBytes.varint(head, 1 << 3);
                PagemapBytes.varint(head, pagesId);
                PagemapBytes.entry(pm, head.toByteArray());
                ByteArrayOutputStream data = new ByteArrayOutputStream();
                long runStart = -1, runLen = 0, last = -1;
                for (var p : e.getValue().entrySet()) {
                    if (runLen > 0 && p.getKey() == last + Pagemap.PAGE_SIZE) {
                        runLen++;
                    } else {
                        if (runLen > 0) run(pm, runStart, runLen);
                        runStart = p.getKey();
                        runLen = 1;
                    }
                    last = p.getKey();
                    data.writeBytes(p.getValue());
                }
                if (runLen > 0) run(pm, runStart, runLen);
                Files.write(dir.resolve(e.getKey()), pm.toByteArray());
                Files.write(dir.resolve("pages-" + pagesId + ".img"), data.toByteArray());
            }
        }

        private static byte[] page(Random rnd) {
            byte[] p = new byte[Pagemap.PAGE_SIZE];
            if (rnd.nextBoolean()) rnd.nextBytes(p);
            else Arrays.fill(p, (byte) rnd.nextInt(256));
            return p;
        }

        private static void run(ByteArrayOutputStream pm, long vaddr, long n) {
            ByteArrayOutputStream m = new ByteArrayOutputStream();
            PagemapBytes.varint(m, 1 << 3);
            PagemapBytes.varint(m, vaddr);
            PagemapBytes.varint(m, 2 << 3); // compat_nr_pages: required, CRIU writes 0
            PagemapBytes.varint(m, 0);
            PagemapBytes.varint(m, 4 << 3);
            PagemapBytes.varint(m, Pagemap.PE_PRESENT);
            PagemapBytes.varint(m, 5 << 3);
            PagemapBytes.varint(m, n);
            PagemapBytes.entry(pm, m.toByteArray());
        }
    }
}
