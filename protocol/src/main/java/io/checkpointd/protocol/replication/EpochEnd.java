package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.ProtocolException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Epoch N is complete. The backup checks the record count and the SHA-256 over every EPOCH_DATA payload of the
 * epoch, in order, and after applying the delta that its image has exactly the files of {@code manifest} (name →
 * size) before it commits.
 */
public record EpochEnd(int records, byte[] digest, Map<String, Long> manifest) {
    static final int MAX_FILES = 1 << 16;

    public byte[] encode() {
        Wire.Out out = new Wire.Out(64 + manifest.size() * 32).i32(records).bytes(digest, 0, digest.length)
                .i32(manifest.size());
        manifest.forEach((n, s) -> out.str(n).i64(s));
        return out.toByteArray();
    }

    public static EpochEnd decode(byte[] p) throws ProtocolException {
        Wire.In in = new Wire.In(p);
        int records = in.i32();
        byte[] digest = in.bytes(64);
        int n = in.i32();
        if (records < 0 || n < 0 || n > MAX_FILES) throw new ProtocolException("bad epoch end counts");
        Map<String, Long> manifest = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            String name = Wire.checkName(in.str());
            long size = in.i64();
            if (size < 0) throw new ProtocolException("negative file size");
            if (manifest.put(name, size) != null) throw new ProtocolException("file " + name + " twice in the manifest");
        }
        in.end();
        return new EpochEnd(records, digest, manifest);
    }
}
