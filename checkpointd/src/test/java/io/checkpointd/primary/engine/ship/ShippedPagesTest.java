package io.checkpointd.primary.engine.ship;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.replication.EpochRecord;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The primary's cache of shipped pages: what it XORs against, when it refuses, and what it forgets. */
class ShippedPagesTest {
    private static final int PAGE = 4096;
    private final Random rnd = new Random(5);

    private byte[] page() {
        byte[] p = new byte[PAGE];
        rnd.nextBytes(p);
        return p;
    }

    private static byte[] changed(byte[] p, int bytes) {
        byte[] q = p.clone();
        for (int i = 0; i < bytes; i++) q[(i * 7) % PAGE] ^= (byte) 0x5A; // distinct offsets: 7 is coprime with 4096
        return q;
    }

    /** The XOR of {@code cur} against the cached page, or null if it must ship plain. */
    private static byte[] xor(ShippedPages c, long v, byte[] cur, long[] hash) {
        byte[] out = new byte[2 * PAGE];
        return c.xor(v, ByteBuffer.wrap(cur), out, PAGE, hash, 0) ? java.util.Arrays.copyOfRange(out, PAGE, 2 * PAGE) : null;
    }

    @Test
    void xorsAgainstTheLastShippedVersionWithItsHash() {
        ShippedPages c = new ShippedPages(16);
        byte[] v1 = page(), v2 = changed(v1, 100), v3 = changed(v2, 1);
        c.put(0x1000, ByteBuffer.wrap(v1));
        long[] h = new long[1];
        byte[] x = xor(c, 0x1000, v2, h);
        assertThat(x).isNotNull();
        assertThat(h[0]).isEqualTo(EpochRecord.PagesXor.baseHash(v1, 0));
        for (int i = 0; i < PAGE; i++) assertThat((byte) (x[i] ^ v1[i])).isEqualTo(v2[i]);
        c.put(0x1000, ByteBuffer.wrap(v2)); // shipped: the next epoch's base
        assertThat(xor(c, 0x1000, v3, h)).isNotNull();
        assertThat(h[0]).isEqualTo(EpochRecord.PagesXor.baseHash(v2, 0));
    }

    @Test
    void onlyPagesAtLeastThreeQuartersUnchangedAreXored() {
        ShippedPages c = new ShippedPages(16);
        byte[] v1 = page();
        c.put(0x2000, ByteBuffer.wrap(v1));
        long[] h = new long[1];
        assertThat(xor(c, 0x2000, changed(v1, PAGE / 4), h)).as("exactly 75 % unchanged").isNotNull();
        assertThat(xor(c, 0x2000, changed(v1, PAGE / 4 + 1), h)).as("just under 75 %").isNull();
        assertThat(xor(c, 0x2000, page(), h)).isNull();
        assertThat(xor(c, 0x3000, v1, h)).as("never shipped").isNull();
    }

    @Test
    void removedAndClearedPagesAreNoBase() {
        ShippedPages c = new ShippedPages(16);
        byte[] a = page(), b = page();
        c.put(0x1000, ByteBuffer.wrap(a));
        c.put(0x2000, ByteBuffer.wrap(b));
        long[] h = new long[1];
        c.remove(0x1000);
        assertThat(xor(c, 0x1000, a, h)).isNull();
        assertThat(xor(c, 0x2000, b, h)).isNotNull();
        c.clear();
        assertThat(c.size()).isZero();
        assertThat(xor(c, 0x2000, b, h)).isNull();
        // slots freed by remove/clear are reused without mixing up contents
        for (int i = 0; i < 40; i++) c.put(0x10000L + i * PAGE, ByteBuffer.wrap(changed(a, i)));
        for (int i = 0; i < 40; i++) {
            byte[] x = xor(c, 0x10000L + i * PAGE, changed(a, i), h);
            if (x == null) continue; // evicted
            assertThat(x).as("page %d", i).containsOnly(0);
            assertThat(h[0]).isEqualTo(EpochRecord.PagesXor.baseHash(changed(a, i), 0));
        }
    }

    @Test
    void boundedWithClockEvictionAndEveryEntryStillRight() {
        ShippedPages c = new ShippedPages(8);
        byte[][] content = new byte[100][];
        long[] h = new long[1];
        for (int round = 0; round < 5; round++) {
            for (int i = 0; i < 100; i++) {
                if (rnd.nextInt(3) == 0) continue;
                content[i] = page();
                c.put(i * (long) PAGE, ByteBuffer.wrap(content[i]));
                if (rnd.nextInt(10) == 0) {
                    c.remove(i * (long) PAGE);
                    content[i] = null;
                }
                assertThat(c.size()).isLessThanOrEqualTo(8);
            }
            int hits = 0;
            for (int i = 0; i < 100; i++) {
                if (!c.contains(i * (long) PAGE)) continue;
                hits++;
                assertThat(content[i]).as("a removed page is gone").isNotNull();
                assertThat(xor(c, i * (long) PAGE, content[i], h)).containsOnly(0);
                assertThat(h[0]).isEqualTo(EpochRecord.PagesXor.baseHash(content[i], 0));
            }
            assertThat(hits).isEqualTo(c.size()).isGreaterThan(0);
        }
    }
}
