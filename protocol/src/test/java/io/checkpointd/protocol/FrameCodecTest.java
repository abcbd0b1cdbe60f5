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

    @Test
    void everySingleBitFlipIsRejected() {
        ByteBuf good = Unpooled.buffer();
        byte[] p = new byte[300];
        new Random(1).nextBytes(p);
        FrameCodec.encode(new Frame(FrameType.EPOCH_DATA, 7, 9, p), good, FrameAuth.NONE);
        int n = good.readableBytes();
        for (int bit = 0; bit < n * 8; bit += 7) {
            ByteBuf bad = good.copy();
            bad.setByte(bit / 8, bad.getByte(bit / 8) ^ (1 << (bit % 8)));
            Frame f;
            try {
                f = FrameCodec.decode(bad, FrameAuth.NONE);
            } catch (ProtocolException e) {
                continue;
            }
            // a flip in a length field may make the frame look incomplete: never a wrong frame
            assertThat(f).as("bit %d", bit).isNull();
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
