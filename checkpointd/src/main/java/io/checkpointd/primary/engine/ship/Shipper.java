package io.checkpointd.primary.engine.ship;

import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.primary.engine.CaptureEngine.RecordSink;
import io.checkpointd.primary.engine.state.Reference;
import io.checkpointd.primary.engine.status.EngineStats;
import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import net.jpountz.xxhash.XXHash64;
import net.jpountz.xxhash.XXHashFactory;

/**
 * Shipping, shared by both kinds of epoch ({@link BaseCapture}, {@link IncrementalCapture}): the files that changed
 * against what the backup holds ({@link Reference}), pages in batched records, and the XOR of pages written again
 * against their last shipped content. One epoch ships at a time.
 */
public final class Shipper {
    private static final XXHash64 XX = XXHashFactory.fastestInstance().hash64();
    static final int PAGE = Pagemap.PAGE_SIZE;

    final Reference ref;
    final EngineStats stats;
    /** XOR compression of incremental epochs' pages against what was shipped; null: off ({@code -Dcheckpointd.xor=false}). */
    final XorPages xor = XorPages.fromSystemProperties();
    /** The arrays shipping batches pages in, kept from epoch to epoch (ship runs on one thread at a time). */
    private final Scratch scratch = new Scratch();

    public Shipper(Reference ref, EngineStats stats) {
        this.ref = ref;
        this.stats = stats;
    }

    /** A NACK or a lost connection: what the backup holds may not be what was shipped; forget the shipped pages. Any thread. */
    public void invalidate() {
        if (xor != null) xor.invalidate();
    }

    /** Forgets the shipped pages now (a base epoch ships plain, or an epoch failed). */
    void dropShippedPages() {
        if (xor != null) xor.forget();
    }

    /** Shipping failed: the backup may hold part of the epoch; the next epoch is a CRIU dump. */
    void failed() {
        ref.resync(true);
        dropShippedPages();
    }

    /** A batch of pages for {@code pagemap}'s records. */
    Batch batch(String pagemap, RecordSink sink) {
        return new Batch(pagemap, sink, scratch);
    }

    /** Emits changed (or, full, all) files; remembers them as shipped. */
    int shipFiles(Map<String, byte[]> files, boolean full, RecordSink sink, long[] fileBytes) throws IOException {
        Map<String, byte[]> shipped = ref.shipped();
        int records = 0;
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            byte[] old = shipped.get(e.getKey());
            if (!full && old != null && Arrays.equals(old, e.getValue())) continue;
            records += DeltaComputer.emitFile(e.getKey(), e.getValue(), sink::accept);
            fileBytes[0] += e.getValue().length;
        }
        for (String name : new ArrayList<>(shipped.keySet())) {
            if (!files.containsKey(name)) {
                if (!full) {
                    sink.accept(new EpochRecord.FileDelete(name));
                    records++;
                }
                shipped.remove(name);
                ref.hashes().remove(name);
            }
        }
        shipped.putAll(files);
        return records;
    }

    /** Name → size of every file of {@code files}. */
    static Map<String, Long> manifest(Map<String, byte[]> files) {
        Map<String, Long> manifest = new TreeMap<>();
        files.forEach((k, v) -> manifest.put(k, (long) v.length));
        return manifest;
    }

    static long hash(ByteBuffer page) {
        return XX.hash(page, page.position(), PAGE, 0x5EED);
    }
}
