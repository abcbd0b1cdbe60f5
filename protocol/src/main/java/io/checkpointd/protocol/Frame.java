package io.checkpointd.protocol;

import java.util.Objects;

/**
 * One message on the wire, tagged with the generation (fencing token) and epoch it belongs to.
 * The payload is the uncompressed body; compression and the checksum are the codec's business.
 */
public record Frame(FrameType type, long generation, long epoch, byte[] payload) {
    private static final byte[] EMPTY = new byte[0];

    public Frame {
        Objects.requireNonNull(type, "type");
        payload = payload == null ? EMPTY : payload;
    }

    public static Frame of(FrameType type, long generation, long epoch) {
        return new Frame(type, generation, epoch, EMPTY);
    }

    @Override
    public String toString() {
        return type + "(gen " + generation + ", epoch " + epoch + ", " + payload.length + " B)";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Frame f && f.type == type && f.generation == generation && f.epoch == epoch
                && java.util.Arrays.equals(f.payload, payload);
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, generation, epoch, java.util.Arrays.hashCode(payload));
    }
}
