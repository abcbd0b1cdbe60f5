package io.checkpointd.protocol.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.ProtocolException;
import io.checkpointd.protocol.auth.FrameAuth;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * {@link FrameCodec#decode} and {@link FrameCodec#decodeAuth} on a peer's bytes: a frame, null (more bytes needed) or
 * a {@link ProtocolException}, nothing else. Selector bit 0 repairs the checksum (to reach LZ4 and the length checks),
 * bit 1 decodes as the handshake's AUTH frame, bit 2 uses the first-frame size limit. A decoded frame must re-encode
 * to a frame that decodes to the same value, and {@link FrameCodec#frameLength} must agree with what was consumed.
 */
class FrameFuzzTest {
    @FuzzTest(maxDuration = Fuzz.BUDGET)
    void decode(byte[] data) {
        int sel = Fuzz.selector(data);
        byte[] bytes = Fuzz.body(data);
        if ((sel & 1) != 0) bytes = Fuzz.withValidCrc(bytes);
        boolean handshake = (sel & 2) != 0;
        int maxWire = (sel & 4) != 0 ? 64 * 1024 : FrameCodec.MAX_WIRE;
        ByteBuf in = Unpooled.wrappedBuffer(bytes);
        Frame f;
        try {
            f = handshake ? FrameCodec.decodeAuth(in) : FrameCodec.decode(in, FrameAuth.NONE, maxWire);
        } catch (ProtocolException e) {
            return;
        }
        if (f == null) {
            Fuzz.check(in.readerIndex() == 0, "consumed bytes without a frame");
            return;
        }
        int length;
        try {
            length = FrameCodec.frameLength(Unpooled.wrappedBuffer(bytes), 0, maxWire);
        } catch (ProtocolException e) {
            throw new AssertionError("decoded a frame whose header frameLength refuses", e);
        }
        Fuzz.check(in.readerIndex() == length, "consumed " + in.readerIndex() + " bytes of a " + length + "-byte frame");
        ByteBuf again = Unpooled.buffer();
        FrameCodec.encode(f, again, FrameAuth.NONE);
        try {
            Frame g = handshake ? FrameCodec.decodeAuth(again) : FrameCodec.decode(again, FrameAuth.NONE);
            Fuzz.check(f.equals(g), "round trip changed " + f + " into " + g);
        } catch (ProtocolException e) {
            throw new AssertionError("re-encoded " + f + " does not decode", e);
        }
    }
}
