package io.checkpointd.restore.store;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The two encodings a hand-built CRIU pagemap image needs in the store's tests: framed messages and varints. */
final class PagemapBytes {
    private PagemapBytes() {
    }

    /** Appends {@code msg} framed as in a CRIU image: its length (4 bytes, little-endian), then the bytes. */
    static void entry(ByteArrayOutputStream out, byte[] msg) {
        out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(msg.length).array());
        out.writeBytes(msg);
    }

    /** Appends {@code v} as a protobuf varint. */
    static void varint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
