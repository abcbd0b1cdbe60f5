package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.ProtocolException;

/**
 * Epoch N starts. {@code baseEpoch} is the epoch its delta is relative to, or {@link #FULL} for a full sync that
 * replaces everything the backup holds.
 */
public record EpochBegin(long baseEpoch, long pauseNanos, long capturedBytes) {
    public static final long FULL = -1;

    public boolean full() {
        return baseEpoch == FULL;
    }

    public byte[] encode() {
        return new Wire.Out(24).i64(baseEpoch).i64(pauseNanos).i64(capturedBytes).toByteArray();
    }

    public static EpochBegin decode(byte[] p) throws ProtocolException {
        Wire.In in = new Wire.In(p);
        EpochBegin b = new EpochBegin(in.i64(), in.i64(), in.i64());
        in.end();
        if (b.baseEpoch < FULL) throw new ProtocolException("bad base epoch " + b.baseEpoch);
        return b;
    }
}
