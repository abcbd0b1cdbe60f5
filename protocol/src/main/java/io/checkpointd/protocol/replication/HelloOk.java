package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.ProtocolException;

/** The backup's answer to {@link Hello}: what it has committed, so the primary knows whether a full sync is due. */
public record HelloOk(long committedGeneration, long committedEpoch) {
    public byte[] encode() {
        return new Wire.Out(16).i64(committedGeneration).i64(committedEpoch).toByteArray();
    }

    public static HelloOk decode(byte[] p) throws ProtocolException {
        Wire.In in = new Wire.In(p);
        HelloOk h = new HelloOk(in.i64(), in.i64());
        in.end();
        return h;
    }
}
