package io.checkpointd.linux.track;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.linux.proc.Vma;
import java.nio.ByteBuffer;
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
    void overlapsMatchesAModel() {
        Random rnd = new Random(11);
        for (int round = 0; round < 300; round++) {
            BitSet pages = new BitSet();
            for (int i = 0; i < 64; i++) if (rnd.nextInt(4) == 0) pages.set(i);
            long[] r = ranges(pages);
            int s = rnd.nextInt(64), e = s + 1 + rnd.nextInt(8);
            boolean expected = pages.get(s, e).cardinality() > 0;
            assertThat(Ranges.overlaps(r, s * 4096L, e * 4096L)).as("%s in [%d, %d)", pages, s, e).isEqualTo(expected);
        }
        assertThat(Ranges.overlaps(Ranges.EMPTY, 0, 4096)).isFalse();
    }

    @Test
    void splitAtCutsRunsAtVmaBoundaries() {
        List<Vma> maps = List.of(new Vma(0x1000, 0x3000, "rw-p", 0, "00:00", 0, ""), new Vma(0x3000, 0x6000, "rw-p", 0, "00:00", 0, ""));
        assertThat(Ranges.splitAt(new long[] {0x0, 0x8000}, maps)).containsExactly(0x0, 0x1000, 0x1000, 0x3000, 0x3000, 0x6000, 0x6000, 0x8000);
        assertThat(Ranges.splitAt(new long[] {0x2000, 0x4000}, maps)).containsExactly(0x2000, 0x3000, 0x3000, 0x4000);
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

    /** Each page of the copy set comes from the stop's buffer if it was copied there, else from the pre-copy's. */
    @Test
    void gatherTakesEachPageFromTheStopsCopyBeforeThePreCopy() {
        Random rnd = new Random(7);
        for (int round = 0; round < 200; round++) {
            BitSet pre = new BitSet(), stop = new BitSet();
            for (int p = 0; p < 64; p++) {
                if (rnd.nextInt(3) == 0) pre.set(p);
                if (rnd.nextInt(4) == 0) stop.set(p);
            }
            long[] inA = ranges(pre), inB = ranges(stop);
            BitSet all = (BitSet) pre.clone();
            all.or(stop);
            BitSet want = new BitSet();
            for (int p = all.nextSetBit(0); p >= 0; p = all.nextSetBit(p + 1)) if (rnd.nextBoolean()) want.set(p);
            long[] copy = ranges(want);
            // page p's bytes: its number, and which buffer holds it (1 = pre-copy, 2 = stop)
            ByteBuffer a = fill(pre, 1), b = fill(stop, 2);
            ByteBuffer out = Ranges.gather(copy, inA, a, inB, b, ByteBuffer.allocateDirect(4096));
            assertThat(out.remaining()).isEqualTo(want.cardinality() * 4096);
            for (int p = want.nextSetBit(0); p >= 0; p = want.nextSetBit(p + 1)) {
                assertThat(out.getInt(out.position())).isEqualTo(p);
                assertThat(out.getInt(out.position() + 4)).as("page %d from the stop's copy if it has it", p).isEqualTo(stop.get(p) ? 2 : 1);
                out.position(out.position() + 4096);
            }
        }
        assertThatThrownBy(() -> Ranges.gather(new long[] {0, 4096}, Ranges.EMPTY, ByteBuffer.allocate(0), Ranges.EMPTY,
                ByteBuffer.allocate(0), ByteBuffer.allocateDirect(4096))).isInstanceOf(IllegalStateException.class);
    }

    private static long[] ranges(BitSet pages) {
        List<long[]> rs = new java.util.ArrayList<>();
        for (int p = pages.nextSetBit(0); p >= 0; p = pages.nextSetBit(p + 1)) {
            if (!rs.isEmpty() && rs.get(rs.size() - 1)[1] == p * 4096L) rs.get(rs.size() - 1)[1] += 4096;
            else rs.add(new long[] {p * 4096L, (p + 1) * 4096L});
        }
        long[] out = new long[rs.size() * 2];
        for (int i = 0; i < rs.size(); i++) {
            out[2 * i] = rs.get(i)[0];
            out[2 * i + 1] = rs.get(i)[1];
        }
        return out;
    }

    private static ByteBuffer fill(BitSet pages, int tag) {
        ByteBuffer b = ByteBuffer.allocate(Math.max(1, pages.cardinality()) * 4096);
        int i = 0;
        for (int p = pages.nextSetBit(0); p >= 0; p = pages.nextSetBit(p + 1), i++) {
            b.putInt(i * 4096, p);
            b.putInt(i * 4096 + 4, tag);
        }
        return b;
    }
}
