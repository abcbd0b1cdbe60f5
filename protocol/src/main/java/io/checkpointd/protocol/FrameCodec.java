package io.checkpointd.protocol;

import io.checkpointd.protocol.auth.FrameAuth;
import io.netty.buffer.ByteBuf;
import java.util.zip.CRC32C;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * The frame layout, shared by every channel (replication and proxy control):
 * <pre>
 *  0  u32 magic 'CPKD'
 *  4  u8  type code            5  u8 flags (bit 0: payload is LZ4, bit 1: a MAC follows)   6  u16 reserved (0)
 *  8  u64 generation          16  u64 epoch
 * 24  u32 wire length of the payload    28  u32 raw (uncompressed) length
 * 32  payload
 *  …  u32 CRC32C over bytes [0, 32 + wire length)
 *  …  16 B MAC over the same bytes, only on authenticated channels (see {@link FrameAuth})
 * </pre>
 * Decoding verifies magic, type, lengths against {@link #MAX_PAYLOAD}, the checksum, the MAC (before the payload is
 * decompressed, so unauthenticated bytes never reach LZ4) and the decompressed size; any mismatch is a
 * {@link ProtocolException} and nothing of the frame is used. Every method takes the connection's {@link FrameAuth}
 * explicitly; {@link FrameAuth#NONE} is plain text.
 */
public final class FrameCodec {
    public static final int MAGIC = 0x43504B44;
    public static final int HEADER = 32;
    public static final int TRAILER = 4;
    /** Upper bound of one frame's raw payload; senders split larger content. */
    public static final int MAX_PAYLOAD = 16 << 20;
    /** Upper bound of a payload's wire length (LZ4's worst case for {@link #MAX_PAYLOAD}). */
    public static final int MAX_WIRE = MAX_PAYLOAD + (MAX_PAYLOAD >> 6) + 64;
    /** Payloads smaller than this are sent raw: LZ4 cannot win much on them. */
    static final int COMPRESS_MIN = 256;
    static final int FLAG_LZ4 = 1;
    static final int FLAG_MAC = 2;
    /** The AUTH frame's payload is tiny; a bigger claim is refused before it is buffered. */
    private static final int MAX_AUTH_WIRE = 256;

    private static final LZ4Factory LZ4 = LZ4Factory.fastestInstance();
    private static final LZ4Compressor COMPRESSOR = LZ4.fastCompressor();
    /**
     * The bounds-checked decompressor, native where the factory has it: lz4-java's {@code fastDecompressor()} is its
     * pure-Java one whatever the factory, and much slower.
     */
    private static final LZ4SafeDecompressor DECOMPRESSOR = LZ4.safeDecompressor();

    private FrameCodec() {
    }

    /** Writes {@code frame} into {@code out}, compressing the payload when that makes it smaller, signed by {@code auth}. */
    public static void encode(Frame frame, ByteBuf out, FrameAuth auth) {
        int start = out.writerIndex();
        encodeUnsigned(frame, out, auth);
        auth.sign(out, start, out.writerIndex() - start - TRAILER);
    }

    /**
     * Like {@link #encode} but leaves the MAC out (the MAC flag is set if {@code auth} authenticates): for senders
     * that compress on their own thread and sign on the event loop, in wire order, with {@link #sign}.
     */
    public static void encodeUnsigned(Frame frame, ByteBuf out, FrameAuth auth) {
        byte[] raw = frame.payload();
        if (raw.length > MAX_PAYLOAD) throw new IllegalArgumentException("payload over " + MAX_PAYLOAD + " bytes");
        byte[] wire = raw;
        int wireLen = raw.length;
        int flags = auth.authenticated() ? FLAG_MAC : 0;
        if (raw.length >= COMPRESS_MIN) {
            byte[] c = new byte[COMPRESSOR.maxCompressedLength(raw.length)];
            int n = COMPRESSOR.compress(raw, 0, raw.length, c, 0, c.length);
            if (n < raw.length) {
                wire = c;
                wireLen = n;
                flags |= FLAG_LZ4;
            }
        }
        int start = out.writerIndex();
        out.ensureWritable(HEADER + wireLen + TRAILER + auth.macLength());
        out.writeInt(MAGIC).writeByte(frame.type().code()).writeByte(flags).writeShort(0)
                .writeLong(frame.generation()).writeLong(frame.epoch()).writeInt(wireLen).writeInt(raw.length)
                .writeBytes(wire, 0, wireLen);
        out.writeInt(crc(out, start, HEADER + wireLen));
    }

    /** Appends the MAC to the one unsigned frame ({@link #encodeUnsigned}) that {@code frame}'s readable bytes hold. */
    public static void sign(ByteBuf frame, FrameAuth auth) {
        if (!auth.authenticated()) return;
        int start = frame.readerIndex();
        int signed = HEADER + frame.getInt(start + 24);
        if ((frame.getUnsignedByte(start + 5) & FLAG_MAC) == 0 || frame.readableBytes() != signed + TRAILER) {
            throw new IllegalArgumentException("not one unsigned frame of an authenticated channel");
        }
        auth.sign(frame, start, signed);
    }

    /** Bytes {@code frame} occupies on the wire (compressing to find out). */
    public static int wireSize(Frame frame, ByteBuf scratch, FrameAuth auth) {
        scratch.clear();
        encodeUnsigned(frame, scratch, auth);
        return scratch.readableBytes() + auth.macLength();
    }

    /**
     * The whole length of the frame whose header starts at {@code start}, for blocking readers that must know how
     * much to read; -1 if the header is not all there yet.
     *
     * @throws ProtocolException if the header is not a frame header or claims more than {@code maxWire} bytes
     */
    public static int frameLength(ByteBuf buf, int start, int maxWire) throws ProtocolException {
        if (buf.writerIndex() - start < HEADER) return -1;
        int magic = buf.getInt(start);
        if (magic != MAGIC) throw new ProtocolException("bad magic 0x" + Integer.toHexString(magic));
        long wireLen = buf.getUnsignedInt(start + 24);
        if (wireLen > maxWire) throw new ProtocolException("frame of " + wireLen + " bytes is too large here (at most " + maxWire + ")");
        boolean mac = (buf.getUnsignedByte(start + 5) & FLAG_MAC) != 0;
        return HEADER + (int) wireLen + TRAILER + (mac ? FrameAuth.MAC_BYTES : 0);
    }

    /** {@link #decode(ByteBuf, FrameAuth, int)} with the largest possible frame. */
    public static Frame decode(ByteBuf in, FrameAuth auth) throws ProtocolException {
        return decode(in, auth, MAX_WIRE);
    }

    /**
     * Decodes one frame if {@code in} holds a whole one; returns null (consuming nothing) if more bytes are needed.
     * An AUTH frame is refused: it belongs to the handshake only ({@link #decodeAuth}).
     *
     * @param auth    the connection's receive side: with a key, every frame must carry a valid MAC; with
     *                {@link FrameAuth#NONE}, none may
     * @param maxWire largest payload wire length accepted; a bigger claim fails before anything is buffered
     * @throws ProtocolException for anything that is not a valid frame; the caller should drop the connection
     */
    public static Frame decode(ByteBuf in, FrameAuth auth, int maxWire) throws ProtocolException {
        return decode(in, auth, Math.min(maxWire, MAX_WIRE), false);
    }

    /**
     * Decodes the plain-text AUTH frame that opens an authenticated connection (see
     * {@link io.checkpointd.protocol.auth.AuthHandshake}); null if more bytes are needed. Any other frame is
     * refused with a message saying what the peer is probably doing instead.
     */
    public static Frame decodeAuth(ByteBuf in) throws ProtocolException {
        return decode(in, FrameAuth.NONE, MAX_AUTH_WIRE, true);
    }

    private static Frame decode(ByteBuf in, FrameAuth auth, int maxWire, boolean handshake) throws ProtocolException {
        if (in.readableBytes() < HEADER) return null;
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic != MAGIC) throw new ProtocolException("bad magic 0x" + Integer.toHexString(magic) + ": not a checkpointd peer");
        int code = in.getUnsignedByte(start + 4);
        int flags = in.getUnsignedByte(start + 5);
        FrameType type = FrameType.ofCode(code);
        if (type == null) throw new ProtocolException("unknown frame type " + code);
        if (handshake && type != FrameType.AUTH) {
            throw new ProtocolException("the peer did not authenticate (it sent " + type
                    + " first): it needs --auth-key with the same key, or both ends --insecure-plaintext");
        }
        if (!handshake && type == FrameType.AUTH) {
            throw new ProtocolException("the peer authenticates (--auth-key) but this end runs --insecure-plaintext, "
                    + "or it repeated its handshake");
        }
        if ((flags & ~(FLAG_LZ4 | FLAG_MAC)) != 0 || in.getUnsignedShort(start + 6) != 0) {
            throw new ProtocolException("unknown flags 0x" + Integer.toHexString(flags));
        }
        boolean mac = (flags & FLAG_MAC) != 0;
        if (mac != auth.authenticated()) {
            throw new ProtocolException(mac ? "a frame with a MAC on a plain-text channel (the peer uses --auth-key, we do not)"
                    : "a frame without a MAC on an authenticated channel (a stranger, or a peer running --insecure-plaintext)");
        }
        long wireLen = in.getUnsignedInt(start + 24);
        long rawLen = in.getUnsignedInt(start + 28);
        if (rawLen > MAX_PAYLOAD || wireLen > maxWire) {
            throw new ProtocolException("frame length out of range (wire " + wireLen + ", raw " + rawLen + ")");
        }
        if ((flags & FLAG_LZ4) == 0 && wireLen != rawLen) throw new ProtocolException("raw length mismatch");
        int signed = HEADER + (int) wireLen;
        int total = signed + TRAILER + auth.macLength();
        if (in.readableBytes() < total) return null;
        int expected = in.getInt(start + signed);
        if (crc(in, start, signed) != expected) throw new ProtocolException("checksum mismatch");
        auth.verify(in, start, signed, start + signed + TRAILER);
        long generation = in.getLong(start + 8);
        long epoch = in.getLong(start + 16);
        byte[] wire = new byte[(int) wireLen];
        in.getBytes(start + HEADER, wire);
        byte[] payload = wire;
        if ((flags & FLAG_LZ4) != 0) {
            payload = new byte[(int) rawLen];
            try {
                int got = DECOMPRESSOR.decompress(wire, 0, (int) wireLen, payload, 0, (int) rawLen);
                if (got != rawLen) throw new ProtocolException("decompressed length mismatch");
            } catch (LZ4Exception e) {
                throw new ProtocolException("corrupt LZ4 payload");
            }
        }
        in.readerIndex(start + total);
        return new Frame(type, generation, epoch, payload);
    }

    private static int crc(ByteBuf buf, int from, int len) {
        CRC32C crc = new CRC32C();
        crc.update(buf.nioBuffer(from, len));
        return (int) crc.getValue();
    }
}
