package io.checkpointd.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.auth.FrameAuth;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FrameCodecTest {
    @Test
    void roundTripsSmallAndCompressiblePayloads() throws Exception {
        byte[] zeros = new byte[64 * 1024];
        for (byte[] p : new byte[][] {new byte[0], "hello".getBytes(), zeros}) {
            ByteBuf buf = Unpooled.buffer();
            Frame f = new Frame(FrameType.EPOCH_DATA, 3, 42, p);
            FrameCodec.encode(f, buf, FrameAuth.NONE);
            if (p == zeros) assertThat(buf.readableBytes()).isLessThan(1024);
            assertThat(FrameCodec.decode(buf, FrameAuth.NONE)).isEqualTo(f);
            assertThat(buf.readableBytes()).isZero();
        }
    }

    @Test
    void incompleteInputConsumesNothing() throws Exception {
        ByteBuf buf = Unpooled.buffer();
        FrameCodec.encode(new Frame(FrameType.ACK, 1, 2, new byte[100]), buf, FrameAuth.NONE);
        ByteBuf part = buf.slice(0, buf.readableBytes() - 1);
        assertThat(FrameCodec.decode(part, FrameAuth.NONE)).isNull();
        assertThat(part.readerIndex()).isZero();
    }

    /**
     * Every bit of two small encoded frames, one sent raw and one LZ4-compressed, flipped in turn: each flip is a
     * {@link ProtocolException}. A flip in the wire-length field may first make the frame look incomplete (null);
     * once the bytes it now claims have arrived it must be rejected too.
     */
    @Test
    void everySingleBitFlipIsRejected() throws Exception {
        byte[] random = new byte[300];
        new Random(1).nextBytes(random);
        byte[] compressible = new byte[300];
        for (int i = 0; i < compressible.length; i++) compressible[i] = (byte) (i % 5);
        for (byte[] p : new byte[][] {random, compressible}) {
            ByteBuf good = Unpooled.buffer();
            FrameCodec.encode(new Frame(FrameType.EPOCH_DATA, 7, 9, p), good, FrameAuth.NONE);
            boolean lz4 = (good.getByte(5) & FrameCodec.FLAG_LZ4) != 0;
            assertThat(lz4).as("the frame's payload is sent %s", p == random ? "raw" : "compressed").isEqualTo(p == compressible);
            int n = good.readableBytes();
            for (int bit = 0; bit < n * 8; bit++) {
                ByteBuf bad = good.copy();
                bad.setByte(bit / 8, bad.getByte(bit / 8) ^ (1 << (bit % 8)));
                assertThat(rejected(bad)).as("flip of bit %d (byte %d) of %d bytes, lz4 %s", bit, bit / 8, n, lz4).isTrue();
            }
        }
    }

    /** Whether decoding {@code bad} fails, feeding it (zero) bytes up to the length it claims if it asks for more. */
    private static boolean rejected(ByteBuf bad) {
        try {
            if (FrameCodec.decode(bad, FrameAuth.NONE) != null) return false;
            int claimed = FrameCodec.frameLength(bad, bad.readerIndex(), FrameCodec.MAX_WIRE);
            assertThat(claimed).as("a frame asking for more bytes claims more than it has").isGreaterThan(bad.readableBytes());
            bad.writeZero(claimed - bad.readableBytes());
            FrameCodec.decode(bad, FrameAuth.NONE);
            return false;
        } catch (ProtocolException e) {
            return true;
        }
    }

    @Test
    void rejectsGarbageAndOversizedLengths() {
        ByteBuf buf = Unpooled.buffer();
        buf.writeBytes(new byte[40]);
        assertThatThrownBy(() -> FrameCodec.decode(buf, FrameAuth.NONE)).isInstanceOf(ProtocolException.class).hasMessageContaining("magic");
        ByteBuf big = Unpooled.buffer();
        big.writeInt(FrameCodec.MAGIC).writeByte(FrameType.ACK.code()).writeByte(0).writeShort(0).writeLong(1).writeLong(1)
                .writeInt(Integer.MAX_VALUE).writeInt(Integer.MAX_VALUE);
        assertThatThrownBy(() -> FrameCodec.decode(big, FrameAuth.NONE)).isInstanceOf(ProtocolException.class).hasMessageContaining("range");
    }
}
