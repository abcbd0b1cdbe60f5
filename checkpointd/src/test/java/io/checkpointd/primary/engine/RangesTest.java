package io.checkpointd.primary.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.proc.Vma;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RangesTest {
    private static final int PAGES = 512;

    /** Random page sets as ranges, checked against BitSet arithmetic. */
    @Test
    void setOperationsMatchAModel() {
        Random rnd = new Random(7);
        for (int round = 0; round < 500; round++) {
            BitSet a = random(rnd), b = random(rnd);
            long[] ra = of(a), rb = of(b);
            BitSet u = (BitSet) a.clone();
            u.or(b);
            BitSet i = (BitSet) a.clone();
            i.and(b);
            BitSet d = (BitSet) a.clone();
            d.andNot(b);
            assertThat(Ranges.union(ra, rb)).isEqualTo(of(u));
            assertThat(Ranges.intersect(ra, rb)).isEqualTo(of(i));
            assertThat(Ranges.subtract(ra, rb)).isEqualTo(of(d));
            assertThat(Ranges.pages(ra)).isEqualTo(a.cardinality());
        }
    }

    @Test
    void bridgeFillsOnlyGapsShorterThanTheLimit() {
        long[] r = {0x1000, 0x2000, 0x3000, 0x4000, 0x9000, 0xa000, 0xa000 + 0x1000 * 2, 0xd000};
        assertThat(Ranges.bridge(r, 0x2000)).containsExactly(0x1000, 0x4000, 0x9000, 0xa000, 0xc000, 0xd000);
        assertThat(Ranges.bridge(r, 0x1)).isEqualTo(r);
        assertThat(Ranges.bridge(r, 1L << 20)).containsExactly(0x1000, 0xd000);
        assertThat(Ranges.bridge(Ranges.EMPTY, 1L << 20)).isEmpty();
        Random rnd = new Random(3);
        for (int round = 0; round < 200; round++) {
            long[] ra = of(random(rnd));
            long[] b = Ranges.bridge(ra, 4096L * (1 + rnd.nextInt(8)));
            assertThat(Ranges.union(ra, b)).as("covers").isEqualTo(b);
            assertThat(b.length).isLessThanOrEqualTo(ra.length);
        }
    }

    @Test
    void splitAtCutsRunsAtVmaBoundaries() {
        List<Vma> maps = List.of(new Vma(0x1000, 0x3000, "rw-p", 0, "00:00", 0, ""), new Vma(0x3000, 0x6000, "rw-p", 0, "00:00", 0, ""));
        assertThat(Ranges.splitAt(new long[] {0x0, 0x8000}, maps)).containsExactly(0x0, 0x1000, 0x1000, 0x3000, 0x3000, 0x6000, 0x6000, 0x8000);
        assertThat(Ranges.splitAt(new long[] {0x2000, 0x4000}, maps)).containsExactly(0x2000, 0x3000, 0x3000, 0x4000);
    }

    @Test
    void pageHashesTrackChangesAndRemovals() {
        PageHashes h = new PageHashes(4);
        Random rnd = new Random(3);
        java.util.Map<Long, Long> model = new java.util.HashMap<>();
        for (int k = 0; k < 20000; k++) {
            long va = (long) rnd.nextInt(3000) << 12;
            if (rnd.nextInt(4) == 0) {
                h.remove(va);
                model.remove(va);
            } else {
                long v = rnd.nextInt(3);
                Long old = model.put(va, v);
                assertThat(h.changed(va, v)).isEqualTo(old == null || old != v);
            }
        }
        assertThat(h.size()).isEqualTo(model.size());
    }

    private static BitSet random(Random rnd) {
        BitSet s = new BitSet(PAGES);
        int runs = rnd.nextInt(8);
        for (int r = 0; r < runs; r++) {
            int from = rnd.nextInt(PAGES);
            s.set(from, Math.min(PAGES, from + 1 + rnd.nextInt(40)));
        }
        return s;
    }

    private static long[] of(BitSet s) {
        List<io.checkpointd.linux.ProcessMemory.RemoteRange> rs = new java.util.ArrayList<>();
        for (int i = s.nextSetBit(0); i >= 0; ) {
            int j = s.nextClearBit(i);
            rs.add(new io.checkpointd.linux.ProcessMemory.RemoteRange((long) i << 12, (long) (j - i) << 12));
            i = s.nextSetBit(j);
        }
        return Ranges.of(rs);
    }
}
