package io.checkpointd.protocol.fuzz;

import io.checkpointd.protocol.FrameCodec;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * What the fuzz targets share. Every target takes raw bytes whose first byte picks a variant (which decoder, whether to
 * repair a frame's checksum) and whose rest is the decoder's input, so a seed is that byte plus a valid encoding.
 */
final class Fuzz {
    /**
     * How long one target fuzzes with {@code JAZZER_FUZZ=1} ({@code bin/test} runs every target in turn). Regression
     * mode ({@code mvn test}) only replays the committed inputs and ignores it.
     */
    static final String BUDGET = "10s";

    private Fuzz() {
    }

    /** The decoder's input: everything after the selector byte. */
    static byte[] body(byte[] data) {
        return data.length == 0 ? data : Arrays.copyOfRange(data, 1, data.length);
    }

    /** The selector byte, 0 for empty input. */
    static int selector(byte[] data) {
        return data.length == 0 ? 0 : data[0] & 0xff;
    }

    /**
     * Writes the right CRC32C into a frame whose declared wire length fits in {@code frame}, so that the fuzzer gets
     * past the checksum to the lengths, the LZ4 payload and the message decoders behind it.
     */
    static byte[] withValidCrc(byte[] frame) {
        if (frame.length < FrameCodec.HEADER) return frame;
        ByteBuffer b = ByteBuffer.wrap(frame);
        long wire = b.getInt(24) & 0xffffffffL;
        if (FrameCodec.HEADER + wire + FrameCodec.TRAILER > frame.length) return frame;
        int signed = FrameCodec.HEADER + (int) wire;
        CRC32C crc = new CRC32C();
        crc.update(frame, 0, signed);
        b.putInt(signed, (int) crc.getValue());
        return frame;
    }

    /** Fails the run: the decoder accepted or produced something it should not have. */
    static void check(boolean condition, String what) {
        if (!condition) throw new AssertionError(what);
    }
}
