package io.checkpointd.protocol.replication;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.ProtocolException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link EpochRecord.PagesXor}: round trip, and every malformed variant is a {@link ProtocolException}. */
class PagesXorRecordTest {
    private static EpochRecord.PagesXor sample(int n) {
        Random rnd = new Random(n);
        long[] v = new long[n], h = new long[n];
        for (int i = 0; i < n; i++) {
            v[i] = 0x7f0000000000L + i * 4096L;
            h[i] = rnd.nextLong();
        }
        byte[] x = new byte[n * 4096];
        rnd.nextBytes(x);
        return new EpochRecord.PagesXor("pagemap-42.img", v, h, x);
    }

    @Test
    void roundTrips() throws Exception {
        for (int n : new int[] {1, 3, EpochRecord.MAX_PAGES}) {
            EpochRecord.PagesXor r = sample(n);
            EpochRecord.PagesXor d = (EpochRecord.PagesXor) EpochRecord.decode(r.encode());
            assertThat(d.pagemapName()).isEqualTo(r.pagemapName());
            assertThat(d.vaddrs()).containsExactly(r.vaddrs());
            assertThat(d.baseHashes()).containsExactly(r.baseHashes());
            assertThat(d.xors()).isEqualTo(r.xors());
        }
    }

    @Test
    void malformedRecordsAreRejected() {
        byte[] good = sample(2).encode();
        // every truncation, and a trailing byte
        for (int len = 0; len < good.length; len += len < 64 ? 1 : 509) {
            byte[] cut = Arrays.copyOf(good, len);
            assertThatThrownBy(() -> EpochRecord.decode(cut)).as("truncated to %d", len).isInstanceOf(ProtocolException.class);
        }
        assertThatThrownBy(() -> EpochRecord.decode(Arrays.copyOf(good, good.length + 1))).isInstanceOf(ProtocolException.class);
        int countAt = 1 + 2 + "pagemap-42.img".length();
        for (int bad : new int[] {0, -1, EpochRecord.MAX_PAGES + 1, Integer.MAX_VALUE, 3}) {
            byte[] b = good.clone();
            ByteBuffer.wrap(b).putInt(countAt, bad);
            assertThatThrownBy(() -> EpochRecord.decode(b)).as("count %d", bad).isInstanceOf(ProtocolException.class);
        }
        byte[] unaligned = good.clone();
        ByteBuffer.wrap(unaligned).putLong(countAt + 4, 0x7f0000000001L);
        assertThatThrownBy(() -> EpochRecord.decode(unaligned)).isInstanceOf(ProtocolException.class);
        byte[] badName = new EpochRecord.PagesXor("../pagemap-1.img", new long[] {0}, new long[] {0}, new byte[4096]).encode();
        assertThatThrownBy(() -> EpochRecord.decode(badName)).isInstanceOf(ProtocolException.class);
    }

    @Test
    void theBaseHashIsOfTheFourKiBAtTheOffset() {
        byte[] two = new byte[8192];
        two[5000] = 1;
        assertThat(EpochRecord.PagesXor.baseHash(two, 0)).isNotEqualTo(EpochRecord.PagesXor.baseHash(two, 4096));
        assertThat(EpochRecord.PagesXor.baseHash(two, 0)).isEqualTo(EpochRecord.PagesXor.baseHash(new byte[4096], 0));
    }
}
