package io.checkpointd.restore.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.Pagemap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The persistent page table and present-run diffs against plain maps and bit sets. */
class PageTableTest {
    private static final Path[] FILES = {Path.of("a"), Path.of("b"), Path.of("c")};
    /** Regions around 1 GiB root boundaries, in the middle of the address space and at its very top. */
    private static final long[] REGIONS = {0x7f0000000000L - 0x100000L, 0x40000000L * 7 - 0x80000L, 0xfffffffff000L - 0x400000L, 0xffffffffff000000L};

    @Test
    void everyVersionKeepsItsContentWhileLaterOnesAreEdited() {
        Random rnd = new Random(5);
        List<PageTable> versions = new ArrayList<>();
        List<TreeMap<Long, ImagePlan.PageRef>> expected = new ArrayList<>();
        PageTable table = PageTable.EMPTY;
        TreeMap<Long, ImagePlan.PageRef> ref = new TreeMap<>();
        for (int epoch = 0; epoch < 300; epoch++) {
            PageTable.Editor ed = table.edit();
            int ops = epoch == 0 ? 5000 : rnd.nextInt(200);
            for (int i = 0; i < ops; i++) {
                long vaddr = REGIONS[rnd.nextInt(REGIONS.length)] + (long) rnd.nextInt(2048) * Pagemap.PAGE_SIZE;
                if (rnd.nextInt(10) < 8) {
                    ImagePlan.PageRef r = new ImagePlan.PageRef(FILES[rnd.nextInt(FILES.length)], rnd.nextInt(1 << 20) * 4096L + 17);
                    ed.put(vaddr, r.file(), r.offset());
                    ref.put(vaddr, r);
                } else {
                    long from = vaddr >>> 12, to = from + (rnd.nextInt(8) == 0 ? rnd.nextInt(1 << 20) : rnd.nextInt(100));
                    if (rnd.nextInt(50) == 0) to = from + (1L << 19); // whole roots
                    to = Math.min(to, 1L << 52);
                    ed.removePages(from, to);
                    long f = from, t = to;
                    ref.keySet().removeIf(k -> (k >>> 12) >= f && (k >>> 12) < t);
                }
            }
            table = ed.build(PresentRuns.NONE);
            versions.add(table);
            expected.add(new TreeMap<>(ref));
            assertSame(table, ref, rnd);
        }
        for (int v = 0; v < versions.size(); v++) assertSame(versions.get(v), expected.get(v), rnd);
    }

    @Test
    void rebaseServesUnchangedPagesFromTheRelocatedSnapshotAndLeavesEveryVersionAlone() {
        Random rnd = new Random(21);
        for (int round = 0; round < 40; round++) {
            TreeMap<Long, ImagePlan.PageRef> ref = new TreeMap<>();
            PageTable snapshot = randomEdits(PageTable.EMPTY, ref, rnd, 3000);
            TreeMap<Long, ImagePlan.PageRef> snapRef = new TreeMap<>(ref);
            PageTable.Editor moved = PageTable.EMPTY.edit();
            TreeMap<Long, ImagePlan.PageRef> movedRef = new TreeMap<>();
            long idx = 0;
            for (long vaddr : snapRef.keySet()) {
                moved.put(vaddr, Path.of("base-new/pages-1.img"), idx * 4096);
                movedRef.put(vaddr, new ImagePlan.PageRef(Path.of("base-new/pages-1.img"), idx++ * 4096));
            }
            PageTable relocated = moved.build(PresentRuns.NONE);
            PageTable current = snapshot;
            for (int e = 0; e < rnd.nextInt(6); e++) current = randomEdits(current, ref, rnd, rnd.nextInt(300));

            PageTable rebased = current.rebase(snapshot, relocated);
            TreeMap<Long, ImagePlan.PageRef> expected = new TreeMap<>();
            for (var en : ref.entrySet()) {
                boolean unchanged = en.getValue().equals(snapRef.get(en.getKey()));
                expected.put(en.getKey(), unchanged ? movedRef.get(en.getKey()) : en.getValue());
            }
            assertSame(rebased, expected, rnd);
            assertSame(current, ref, rnd);
            assertSame(snapshot, snapRef, rnd);
            assertSame(relocated, movedRef, rnd);
        }
    }

    /** A new version of {@code t} after {@code ops} random puts and range removals, mirrored in {@code ref}. */
    private static PageTable randomEdits(PageTable t, TreeMap<Long, ImagePlan.PageRef> ref, Random rnd, int ops) {
        PageTable.Editor ed = t.edit();
        for (int i = 0; i < ops; i++) {
            long vaddr = REGIONS[rnd.nextInt(REGIONS.length)] + (long) rnd.nextInt(2048) * Pagemap.PAGE_SIZE;
            if (rnd.nextInt(10) < 8) {
                ImagePlan.PageRef r = new ImagePlan.PageRef(FILES[rnd.nextInt(FILES.length)], rnd.nextInt(64) * 4096L);
                ed.put(vaddr, r.file(), r.offset());
                ref.put(vaddr, r);
            } else {
                long from = vaddr >>> 12, to = from + rnd.nextInt(rnd.nextInt(20) == 0 ? 1 << 14 : 100);
                ed.removePages(from, to);
                ref.keySet().removeIf(k -> (k >>> 12) >= from && (k >>> 12) < to);
            }
        }
        return ed.build(PresentRuns.NONE);
    }

    private static void assertSame(PageTable t, TreeMap<Long, ImagePlan.PageRef> ref, Random rnd) {
        assertThat(t.size()).isEqualTo(ref.size());
        for (var e : ref.entrySet()) assertThat(t.get(e.getKey())).isEqualTo(e.getValue());
        for (int i = 0; i < 200; i++) {
            long vaddr = REGIONS[rnd.nextInt(REGIONS.length)] + (long) rnd.nextInt(4096) * Pagemap.PAGE_SIZE;
            assertThat(t.get(vaddr)).isEqualTo(ref.get(vaddr));
        }
    }

    @Test
    void presentRunsDiffLikeBitSets() throws IOException {
        Random rnd = new Random(9);
        for (int round = 0; round < 500; round++) {
            BitSet a = new BitSet(), b = new BitSet();
            PresentRuns ra = PresentRuns.of(Pagemap.parse(randomPagemap(rnd, a))), rb = PresentRuns.of(Pagemap.parse(randomPagemap(rnd, b)));
            assertThat(ra.pages()).isEqualTo(a.cardinality());
            assertRuns(ra, a);
            BitSet aMinusB = (BitSet) a.clone();
            aMinusB.andNot(b);
            assertRuns(ra.minus(rb), aMinusB);
            BitSet bMinusA = (BitSet) b.clone();
            bMinusA.andNot(a);
            assertRuns(rb.minus(ra), bMinusA);
            for (int i = 0; i < 600; i++) assertThat(ra.contains(i)).isEqualTo(a.get(i));
        }
    }

    private static void assertRuns(PresentRuns r, BitSet expected) {
        BitSet got = new BitSet();
        for (int i = 0; i < r.count(); i++) {
            assertThat(r.start(i)).isLessThan(r.end(i));
            if (i > 0) assertThat(r.start(i)).as("disjoint, not adjacent").isGreaterThan(r.end(i - 1));
            got.set((int) r.start(i), (int) r.end(i));
        }
        assertThat(got).isEqualTo(expected);
        assertThat(r.pages()).isEqualTo(expected.cardinality());
    }

    /** Present runs in random order, overlapping and adjacent at times, plus runs without data here. */
    private static byte[] randomPagemap(Random rnd, BitSet present) {
        ByteArrayOutputStream pm = new ByteArrayOutputStream();
        pm.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(Pagemap.IMG_COMMON_MAGIC).putInt(Pagemap.PAGEMAP_MAGIC).array());
        PagemapBytes.entry(pm, new byte[] {0x08, 1});
        int runs = rnd.nextInt(12);
        for (int i = 0; i < runs; i++) {
            int start = rnd.nextInt(500), n = rnd.nextInt(60);
            boolean data = rnd.nextInt(5) != 0;
            if (data) present.set(start, start + n);
            ByteArrayOutputStream m = new ByteArrayOutputStream();
            PagemapBytes.varint(m, 1 << 3);
            PagemapBytes.varint(m, (long) start * Pagemap.PAGE_SIZE);
            PagemapBytes.varint(m, 2 << 3); // compat_nr_pages: required, CRIU writes 0
            PagemapBytes.varint(m, 0);
            PagemapBytes.varint(m, 4 << 3);
            PagemapBytes.varint(m, data ? Pagemap.PE_PRESENT : Pagemap.PE_LAZY);
            PagemapBytes.varint(m, 5 << 3);
            PagemapBytes.varint(m, n);
            PagemapBytes.entry(pm, m.toByteArray());
        }
        return pm.toByteArray();
    }


}
