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
        ImageStore.EpochWriter w = store.begin(gen, epoch, new EpochBegin(base, 0, imageBytes));
        MessageDigest md = sha256();
        try {
            for (byte[] p : payloads) {
                w.add(p);
                md.update(p);
            }
        } catch (IOException | RuntimeException e) {
            w.abort(); // as the session does on a rejected record
            throw e;
        }
        w.commit(new EpochEnd(payloads.size(), md.digest(), manifest));
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
