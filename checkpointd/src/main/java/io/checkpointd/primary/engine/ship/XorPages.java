package io.checkpointd.primary.engine.ship;

import io.checkpointd.primary.engine.CaptureEngine.RecordSink;
import io.checkpointd.primary.engine.EngineSettings;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * XOR compression of incremental epochs (Remus): a page whose last shipped version is cached and mostly unchanged
 * ships as {@link EpochRecord.PagesXor} against it, which LZ4 squeezes far better than the page itself. What is
 * cached must be what the backup holds once the epochs shipped so far commit, so the engine tells this class every
 * event after which that may not hold: a base epoch ships ({@link #forget}, then {@link #seed} with what it ships),
 * an epoch fails or is discarded ({@link #forget}, {@link #invalidate}), the backup NACKs or the connection is lost
 * ({@link #invalidate}, from any thread: taken at the next {@link #start}), a page leaves the present set
 * ({@link #gone}). Used by the thread that ships epochs, except {@link #invalidate}.
 */
public final class XorPages {
    private static final int PAGE = Pagemap.PAGE_SIZE;

    private final ShippedPages cache;
    private final long[] vaddrs = new long[EpochRecord.MAX_PAGES];
    private final long[] baseHashes = new long[EpochRecord.MAX_PAGES];
    private final byte[] data = new byte[EpochRecord.MAX_PAGES * PAGE]; // one for every epoch: no 4 MiB of garbage each
    private volatile boolean invalid;
    private String pagemap;
    private RecordSink sink;
    private int n;
    private long pages;
    private int records;

    /** @param capacityPages bound on the cached pages (16,384 = 64 MiB) */
    XorPages(int capacityPages) {
        cache = new ShippedPages(capacityPages);
    }

    /** On unless {@code -Dcheckpointd.xor=false} (benchmark comparisons); {@code -Dcheckpointd.xor.cacheMiB} (64). */
    public static XorPages fromSystemProperties() {
        if (!EngineSettings.xor()) return null;
        return new XorPages(EngineSettings.xorCacheMiB() * (1 << 20) / PAGE);
    }

    /** The backup may not hold what was shipped: nothing shipped so far may be a base. Any thread. */
    public void invalidate() {
        invalid = true;
    }

    /** Forgets every shipped page, now (a base epoch ships, or an epoch failed). */
    public void forget() {
        invalid = false;
        cache.clear();
    }

    /** {@code page} was shipped plain for {@code vaddr} by a base epoch (after {@link #forget}). */
    void seed(long vaddr, ByteBuffer page) {
        cache.put(vaddr, page);
    }

    /** Starts an incremental epoch's pages of {@code pagemapName}; an {@link #invalidate} since takes effect here. */
    void start(String pagemapName, RecordSink sink) {
        if (invalid) forget();
        this.pagemap = pagemapName;
        this.sink = sink;
        n = 0;
        pages = 0;
        records = 0;
    }

    /** The page at {@code vaddr} left the present set: the backup drops its data, so it can be no base. */
    void gone(long vaddr) {
        cache.remove(vaddr);
    }

    /**
     * Ships {@code page} (which changed) as XOR if it can, and remembers it as shipped either way.
     *
     * @return false if the caller must ship it plain (no cached version, or less than 75 % unchanged)
     */
    boolean offer(long vaddr, ByteBuffer page) throws IOException {
        boolean xored = cache.xor(vaddr, page, data, n * PAGE, baseHashes, n);
        cache.put(vaddr, page);
        if (!xored) return false;
        vaddrs[n++] = vaddr;
        pages++;
        if (n == vaddrs.length) flush();
        return true;
    }

    /** Ships what is pending; returns the epoch's record count. */
    int finish() throws IOException {
        flush();
        return records;
    }

    /** Pages this epoch shipped as XOR. */
    long pages() {
        return pages;
    }

    int cached() {
        return cache.size();
    }

    private void flush() throws IOException {
        if (n == 0) return;
        sink.accept(new EpochRecord.PagesXor(pagemap, Arrays.copyOf(vaddrs, n), Arrays.copyOf(baseHashes, n), Arrays.copyOf(data, n * PAGE)));
        records++;
        n = 0;
    }
}
