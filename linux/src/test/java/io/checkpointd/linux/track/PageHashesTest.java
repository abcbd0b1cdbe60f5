package io.checkpointd.linux.track;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PageHashesTest {
    @Test
    void growAndClear() {
        PageHashes h = new PageHashes(4);
        for (long i = 1; i <= 10_000; i++) h.put(i << 12, i * 7);
        assertThat(h.size()).isEqualTo(10_000);
        for (long i = 1; i <= 10_000; i++) assertThat(h.get(i << 12, -1)).isEqualTo(i * 7);
        assertThat(h.get(20_000L << 12, -1)).isEqualTo(-1);
        h.put(5L << 12, 1);
        assertThat(h.get(5L << 12, -1)).isEqualTo(1);
        h.clear();
        assertThat(h.size()).isZero();
        assertThat(h.get(5L << 12, -1)).isEqualTo(-1);
    }

    /** Random changes and removals over a few hundred scattered pages (probe chains, wrapping), checked against a HashMap. */
    @Test
    void changedAndRemoveMatchAModel() {
        Random rnd = new Random(11);
        long[] pool = new long[300];
        for (int i = 0; i < pool.length; i++) pool[i] = (rnd.nextLong() >>> 28) << 12;
        PageHashes h = new PageHashes(16);
        Map<Long, Long> model = new HashMap<>();
        for (int op = 0; op < 200_000; op++) {
            long page = pool[rnd.nextInt(pool.length)];
            if (rnd.nextInt(3) == 0) {
                h.remove(page);
                model.remove(page);
            } else {
                long v = rnd.nextInt(4);
                Long old = model.put(page, v);
                assertThat(h.changed(page, v)).as("changed(0x%x)", page).isEqualTo(old == null || old != v);
            }
            if (op % 1000 == 0) {
                assertThat(h.size()).isEqualTo(model.size());
                for (long p : pool) assertThat(h.get(p, -5)).as("get(0x%x)", p).isEqualTo(model.getOrDefault(p, -5L));
            }
        }
    }
}
