package io.checkpointd.primary.engine.ship;

import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.util.Arrays;

/** A {@link Batch}'s arrays; one batch at a time uses them. */
final class Scratch {
    private static final int PAGE = Pagemap.PAGE_SIZE;
    private static final int FIRST = 64;
    long[] vaddrs = new long[FIRST];
    byte[] data = new byte[FIRST * PAGE];

    void grow() {
        int more = Math.min(vaddrs.length * 2, EpochRecord.MAX_PAGES);
        vaddrs = Arrays.copyOf(vaddrs, more);
        data = Arrays.copyOf(data, more * PAGE);
    }

    /** A record took the arrays: new ones of the same size (a full record is likely followed by another). */
    void handedOver() {
        vaddrs = new long[vaddrs.length];
        data = new byte[data.length];
    }
}
