package io.checkpointd.primary.engine.ship;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.replication.EpochRecord;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The primary's XOR shipping as the engine drives it, against a model backup that applies what it receives the way
 * the store does (the base hash must match its page): what is XORed, and that every invalidation forgets the bases.
 */
class XorPagesTest {
    private static final int PAGE = 4096;
    private final Random rnd = new Random(9);
    /** The backup: vaddr → page, as committed. */
    private final Map<Long, byte[]> backup = new HashMap<>();
    private final List<EpochRecord.PagesXor> received = new ArrayList<>();
    private final XorPages xor = new XorPages(1024);

    private void receive(EpochRecord r) {
        EpochRecord.PagesXor x = (EpochRecord.PagesXor) r;
        received.add(x);
        for (int i = 0; i < x.vaddrs().length; i++) {
            byte[] base = backup.get(x.vaddrs()[i]);
            assertThat(base).as("a base for 0x%x", x.vaddrs()[i]).isNotNull();
            assertThat(EpochRecord.PagesXor.baseHash(base, 0)).as("the base of 0x%x", x.vaddrs()[i]).isEqualTo(x.baseHashes()[i]);
            byte[] p = new byte[PAGE];
            for (int j = 0; j < PAGE; j++) p[j] = (byte) (x.xors()[i * PAGE + j] ^ base[j]);
            backup.put(x.vaddrs()[i], p);
        }
    }

    /** One incremental epoch shipping {@code pages}; returns how many went as XOR. */
    private long incremental(Map<Long, byte[]> pages) throws Exception {
        received.clear();
        xor.start("pagemap-1.img", this::receive);
        for (var e : pages.entrySet()) {
            if (!xor.offer(e.getKey(), ByteBuffer.wrap(e.getValue()))) backup.put(e.getKey(), e.getValue().clone());
        }
        int records = xor.finish();
        assertThat(records).isEqualTo(received.size());
        for (var e : pages.entrySet()) assertThat(backup.get(e.getKey())).isEqualTo(e.getValue());
        return xor.pages();
    }

    /** A base epoch shipping {@code pages} plain. */
    private void base(Map<Long, byte[]> pages) {
        xor.forget();
        for (var e : pages.entrySet()) {
            backup.put(e.getKey(), e.getValue().clone());
            xor.seed(e.getKey(), ByteBuffer.wrap(e.getValue()));
        }
    }

    private Map<Long, byte[]> touch(Map<Long, byte[]> img, int bytesPerPage) {
        Map<Long, byte[]> changed = new HashMap<>();
        for (var e : img.entrySet()) {
            byte[] p = e.getValue().clone();
            for (int i = 0; i < bytesPerPage; i++) p[rnd.nextInt(PAGE)] ^= (byte) (1 + rnd.nextInt(255));
            e.setValue(p);
            changed.put(e.getKey(), p);
        }
        return changed;
    }

    private Map<Long, byte[]> image(int pages) {
        Map<Long, byte[]> img = new HashMap<>();
        for (int i = 0; i < pages; i++) {
            byte[] p = new byte[PAGE];
            rnd.nextBytes(p);
            img.put(0x7f0000000000L + i * (long) PAGE, p);
        }
        return img;
    }

    @Test
    void mostlyUnchangedPagesShipAsXorAndTheBackupRebuildsThem() throws Exception {
        Map<Long, byte[]> img = image(50);
        base(img);
        for (int epoch = 0; epoch < 10; epoch++) assertThat(incremental(touch(img, 20))).isEqualTo(50);
        assertThat(incremental(touch(img, 2000))).as("mostly rewritten pages ship plain").isZero();
        assertThat(incremental(touch(img, 20))).as("and are the bases of the next epoch").isEqualTo(50);
    }

    @Test
    void aNackOrALostConnectionForgetsEveryBaseAtTheNextEpoch() throws Exception {
        Map<Long, byte[]> img = image(20);
        base(img);
        assertThat(incremental(touch(img, 5))).isEqualTo(20);
        // the backup refused that epoch: its image is not what the cache says
        backup.clear();
        xor.invalidate();
        assertThat(incremental(touch(img, 5))).as("after invalidate").isZero();
        assertThat(incremental(touch(img, 5))).as("what shipped since is a base again").isEqualTo(20);
    }

    @Test
    void anInvalidationFromAnotherThreadIsTakenByTheNextEpoch() throws Exception {
        Map<Long, byte[]> img = image(8);
        base(img);
        Thread t = new Thread(xor::invalidate);
        t.start();
        t.join();
        backup.clear();
        assertThat(incremental(touch(img, 5))).isZero();
    }

    @Test
    void aFailedEpochForgetsEveryBase() throws Exception {
        Map<Long, byte[]> img = image(10);
        base(img);
        xor.start("pagemap-1.img", r -> {
            throw new java.io.IOException("connection lost");
        });
        for (var e : touch(img, 5).entrySet()) xor.offer(e.getKey(), ByteBuffer.wrap(e.getValue()));
        try {
            xor.finish();
        } catch (java.io.IOException expected) {
            xor.forget(); // what the engine does when shipping throws
        }
        assertThat(xor.cached()).isZero();
        backup.clear(); // the full sync that follows
        base(img);
        assertThat(incremental(touch(img, 5))).isEqualTo(10);
    }

    @Test
    void aPageThatLeftThePresentSetIsNoBase() throws Exception {
        Map<Long, byte[]> img = image(4);
        base(img);
        long v = img.keySet().iterator().next();
        xor.gone(v);
        backup.remove(v);
        Map<Long, byte[]> back = new HashMap<>();
        back.put(v, img.get(v));
        assertThat(incremental(back)).isZero();
    }

    @Test
    void aBaseEpochReplacesTheBasesWithWhatItShipped() throws Exception {
        Map<Long, byte[]> img = image(10);
        base(img);
        incremental(touch(img, 5));
        // a structural CRIU dump ships only some pages (the rest are unchanged by hash)
        Map<Long, byte[]> some = new HashMap<>();
        img.entrySet().stream().limit(3).forEach(e -> some.put(e.getKey(), e.getValue()));
        base(some);
        assertThat(incremental(touch(img, 5))).isEqualTo(3);
    }
}
