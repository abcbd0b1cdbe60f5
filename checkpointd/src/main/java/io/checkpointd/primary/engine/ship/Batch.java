package io.checkpointd.primary.engine.ship;

import io.checkpointd.primary.engine.CaptureEngine.RecordSink;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Accumulates pages into records of at most {@link EpochRecord#MAX_PAGES}, in arrays that grow with the pages
 * added, kept from one epoch to the next ({@link Scratch}); a record takes a copy of what it holds, or the
 * arrays themselves when full. Kept because a fresh 4 MiB array per batch, copied out at the flush, would be most of
 * the primary's garbage.
 */
final class Batch {
    private static final int PAGE = Pagemap.PAGE_SIZE;

    final String pagemap;
    final RecordSink sink;
    final Scratch scratch;
    int n;
    long pages;
    int records;

    Batch(String pagemap, RecordSink sink, Scratch scratch) {
        this.pagemap = pagemap;
        this.sink = sink;
        this.scratch = scratch;
    }

    void add(long vaddr, ByteBuffer page) throws IOException {
        if (n == scratch.vaddrs.length) scratch.grow();
        scratch.vaddrs[n] = vaddr;
        page.get(page.position(), scratch.data, n * PAGE, PAGE);
        n++;
        pages++;
        if (n == EpochRecord.MAX_PAGES) flush();
    }

    /** Always one record per pagemap, even empty: the backup rebuilds a pagemap whose layout changed. */
    void flush() throws IOException {
        if (n == 0 && records > 0) return;
        if (n == scratch.vaddrs.length) {
            sink.accept(new EpochRecord.PageDelta(pagemap, scratch.vaddrs, scratch.data));
            scratch.handedOver();
        } else {
            sink.accept(new EpochRecord.PageDelta(pagemap, Arrays.copyOf(scratch.vaddrs, n),
                    Arrays.copyOf(scratch.data, n * PAGE)));
        }
        records++;
        n = 0;
    }
}
