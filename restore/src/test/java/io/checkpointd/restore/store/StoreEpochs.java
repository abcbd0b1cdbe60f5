package io.checkpointd.restore.store;

import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;
import java.util.Map;

/** Commits an epoch's encoded records to a store as a replication session does: begin, add each, end with the digest. */
final class StoreEpochs {
    private StoreEpochs() {
    }

    /** Begins epoch {@code epoch} of {@code gen} on {@code base}, adds {@code payloads} and commits; aborts on a rejected record. */
    static void commit(ImageStore store, long gen, long epoch, long base, long imageBytes, List<byte[]> payloads,
            Map<String, Long> manifest) throws IOException {
        write(store, gen, epoch, base, imageBytes, payloads, manifest).commit(end(payloads, manifest));
    }

    /** As {@link #commit} but only applied: durable after the store's next sync. */
    static void apply(ImageStore store, long gen, long epoch, long base, long imageBytes, List<byte[]> payloads,
            Map<String, Long> manifest) throws IOException {
        write(store, gen, epoch, base, imageBytes, payloads, manifest).apply(end(payloads, manifest));
    }

    private static EpochEnd end(List<byte[]> payloads, Map<String, Long> manifest) {
        MessageDigest md = sha256();
        for (byte[] p : payloads) md.update(p);
        return new EpochEnd(payloads.size(), md.digest(), manifest);
    }

    private static ImageStore.EpochWriter write(ImageStore store, long gen, long epoch, long base, long imageBytes,
            List<byte[]> payloads, Map<String, Long> manifest) throws IOException {
        ImageStore.EpochWriter w = store.begin(gen, epoch, new EpochBegin(base, 0, imageBytes));
        try {
            for (byte[] p : payloads) w.add(p);
        } catch (IOException | RuntimeException e) {
            w.abort(); // as the session does on a rejected record
            throw e;
        }
        return w;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
