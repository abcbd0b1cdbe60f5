package io.checkpointd.protocol.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The per-connection MAC: what verifies, and every way a frame from elsewhere fails. */
class FrameAuthTest {
    private static final FrameAuth.Side C = FrameAuth.Side.CLIENT, S = FrameAuth.Side.SERVER;
    private final ChannelKey key = ChannelKey.random();
    private final byte[] clientNonce = key.newNonce(), serverNonce = key.newNonce();

    @Test
    void framesVerifyBothWaysInOrder() throws Exception {
        FrameAuth client = key.connection(C, clientNonce, serverNonce), server = key.connection(S, clientNonce, serverNonce);
        byte[] big = new byte[100_000]; // compressible: the MAC covers the compressed wire bytes
        for (int i = 0; i < 5; i++) {
            Frame f = new Frame(FrameType.EPOCH_DATA, 3, i, i == 2 ? big : ("frame " + i).getBytes());
            assertThat(roundTrip(f, client, server)).isEqualTo(f);
            Frame ack = Frame.of(FrameType.ACK, 3, i);
            assertThat(roundTrip(ack, server, client)).isEqualTo(ack);
        }
    }

    @Test
    void aWrongKeyFails() {
        ChannelKey other = ChannelKey.random();
        FrameAuth client = other.connection(C, clientNonce, serverNonce), server = key.connection(S, clientNonce, serverNonce);
        assertThatThrownBy(() -> roundTrip(Frame.of(FrameType.SEAL, 1, 0), client, server))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("bad MAC");
    }

    @Test
    void aFrameOfAnotherConnectionFails() {
        FrameAuth first = key.connection(C, clientNonce, serverNonce);
        FrameAuth second = key.connection(S, clientNonce, key.newNonce()); // same key, the server's new nonce
        assertThatThrownBy(() -> roundTrip(Frame.of(FrameType.RELEASE, 1, 7), first, second))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("bad MAC");
        FrameAuth third = key.connection(S, key.newNonce(), serverNonce); // the client's new nonce
        assertThatThrownBy(() -> roundTrip(Frame.of(FrameType.RELEASE, 1, 7), key.connection(C, clientNonce, serverNonce), third))
                .isInstanceOf(ProtocolException.class);
    }

    @Test
    void replayedReorderedAndReflectedFramesFail() throws Exception {
        FrameAuth client = key.connection(C, clientNonce, serverNonce), server = key.connection(S, clientNonce, serverNonce);
        ByteBuf f0 = encode(Frame.of(FrameType.SEAL, 1, 0), client), f1 = encode(Frame.of(FrameType.SEAL, 1, 1), client);
        ByteBuf replay = f0.copy();
        assertThat(FrameCodec.decode(f0, server)).isNotNull();
        assertThatThrownBy(() -> FrameCodec.decode(replay, server)).as("replayed").isInstanceOf(ProtocolException.class);

        FrameAuth client2 = key.connection(C, clientNonce, serverNonce), server2 = key.connection(S, clientNonce, serverNonce);
        ByteBuf g0 = encode(Frame.of(FrameType.SEAL, 1, 0), client2), g1 = encode(Frame.of(FrameType.SEAL, 1, 1), client2);
        assertThatThrownBy(() -> FrameCodec.decode(g1, server2)).as("reordered").isInstanceOf(ProtocolException.class);
        assertThat(g0.isReadable()).isTrue();

        FrameAuth self = key.connection(C, clientNonce, serverNonce);
        assertThatThrownBy(() -> FrameCodec.decode(f1.copy(), self)).as("reflected to its sender").isInstanceOf(ProtocolException.class);
    }

    @Test
    void everyTamperedByteFailsEvenWithARecomputedChecksum() {
        byte[] p = new byte[300];
        new Random(5).nextBytes(p);
        ByteBuf good = encode(new Frame(FrameType.EPOCH_DATA, 7, 9, p), key.connection(C, clientNonce, serverNonce));
        int n = good.readableBytes();
        int signed = FrameCodec.HEADER + good.getInt(24);
        for (int i = 0; i < n; i++) {
            ByteBuf bad = good.copy();
            bad.setByte(i, bad.getByte(i) ^ 0x20);
            if (i < signed) bad.setInt(signed, crc(bad, signed)); // so only the MAC can catch it
            Frame f;
            try {
                f = FrameCodec.decode(bad, key.connection(S, clientNonce, serverNonce));
            } catch (ProtocolException e) {
                continue;
            }
            // a flip in a length field may make the frame look incomplete: never a wrong frame
            assertThat(f).as("byte %d", i).isNull();
        }
    }

    @Test
    void aTruncatedOrStrippedMacFails() throws Exception {
        FrameAuth client = key.connection(C, clientNonce, serverNonce);
        ByteBuf whole = encode(Frame.of(FrameType.SEAL, 1, 0), client);
        ByteBuf next = encode(Frame.of(FrameType.SEAL, 1, 1), client);
        int n = whole.readableBytes();

        ByteBuf cut = whole.copy(0, n - 5);
        assertThat(FrameCodec.decode(cut, key.connection(S, clientNonce, serverNonce))).as("waits for the rest").isNull();
        ByteBuf cutThenNext = Unpooled.wrappedBuffer(whole.copy(0, n - 5), next.copy());
        assertThatThrownBy(() -> FrameCodec.decode(cutThenNext, key.connection(S, clientNonce, serverNonce)))
                .isInstanceOf(ProtocolException.class);

        // strip the MAC and its flag, fix the checksum: a valid plain-text frame, refused on an authenticated channel
        ByteBuf stripped = whole.copy(0, n - FrameAuth.MAC_BYTES);
        stripped.setByte(5, stripped.getByte(5) & ~2);
        int signed = FrameCodec.HEADER + stripped.getInt(24);
        stripped.setInt(signed, crc(stripped, signed));
        assertThatThrownBy(() -> FrameCodec.decode(stripped, key.connection(S, clientNonce, serverNonce)))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("without a MAC");
        assertThat(FrameCodec.decode(stripped.copy(), FrameAuth.NONE)).as("what it would be in plain text").isNotNull();
        assertThatThrownBy(() -> FrameCodec.decode(whole.copy(), FrameAuth.NONE)).hasMessageContaining("with a MAC");
    }

    @Test
    void signingLaterInWireOrderEqualsSigningAtOnce() throws Exception {
        FrameAuth a = key.connection(C, clientNonce, serverNonce), b = key.connection(C, clientNonce, serverNonce);
        Frame f = new Frame(FrameType.EPOCH_DATA, 2, 3, new byte[4096]);
        ByteBuf direct = encode(f, a);
        ByteBuf later = Unpooled.buffer();
        FrameCodec.encodeUnsigned(f, later, b);
        FrameCodec.sign(later, b);
        assertThat(ByteBufEquals.bytes(later)).isEqualTo(ByteBufEquals.bytes(direct));
    }

    @Test
    void theHandshakeDerivesMatchingKeysAndNamesAWrongKey() throws Exception {
        byte[] cn = key.newNonce(), sn = key.newNonce();
        FrameAuth client = AuthHandshake.accept(key, C, cn, authFrame(key, sn));
        FrameAuth server = AuthHandshake.accept(key, S, sn, authFrame(key, cn));
        Frame f = Frame.of(FrameType.HELLO, 4, 0);
        assertThat(roundTrip(f, client, server)).isEqualTo(f);
        assertThatThrownBy(() -> AuthHandshake.accept(key, S, sn, authFrame(ChannelKey.random(), cn)))
                .isInstanceOf(ProtocolException.class).hasMessageContaining("different --auth-key");
        assertThatThrownBy(() -> AuthHandshake.accept(key, S, sn, authFrame(key, sn))).hasMessageContaining("echoed");
    }

    private static Frame authFrame(ChannelKey k, byte[] nonce) throws ProtocolException {
        return FrameCodec.decodeAuth(Unpooled.wrappedBuffer(AuthHandshake.authFrame(k, nonce)));
    }

    private static Frame roundTrip(Frame f, FrameAuth sender, FrameAuth receiver) throws ProtocolException {
        ByteBuf buf = encode(f, sender);
        Frame out = FrameCodec.decode(buf, receiver);
        assertThat(buf.readableBytes()).isZero();
        return out;
    }

    private static ByteBuf encode(Frame f, FrameAuth auth) {
        ByteBuf buf = Unpooled.buffer();
        FrameCodec.encode(f, buf, auth);
        return buf;
    }

    private static int crc(ByteBuf b, int len) {
        CRC32C c = new CRC32C();
        c.update(b.nioBuffer(0, len));
        return (int) c.getValue();
    }

    private static final class ByteBufEquals {
        static byte[] bytes(ByteBuf b) {
            byte[] out = new byte[b.readableBytes()];
            b.getBytes(b.readerIndex(), out);
            return out;
        }
    }
}
