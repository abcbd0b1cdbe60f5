package io.checkpointd.protocol;

import io.netty.buffer.ByteBuf;
import java.util.zip.CRC32C;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * The frame layout, shared by every channel (replication and proxy control):
 * <pre>
 *  0  u32 magic 'CPKD'
 *  4  u8  type code            5  u8 flags (bit 0: payload is LZ4)   6  u16 reserved (0)
 *  8  u64 generation          16  u64 epoch
 * 24  u32 wire length of the payload    28  u32 raw (uncompressed) length
 * 32  payload
 *  …  u32 CRC32C over bytes [0, 32 + wire length)
 * </pre>
 * Decoding verifies magic, type, lengths against {@link #MAX_PAYLOAD}, the checksum and the decompressed size;
 * any mismatch is a {@link ProtocolException} and nothing of the frame is used.
 */
public final class FrameCodec {
    public static final int MAGIC = 0x43504B44;
    public static final int HEADER = 32;
    public static final int TRAILER = 4;
    /** Upper bound of one frame's raw payload; senders split larger content. */
    public static final int MAX_PAYLOAD = 16 << 20;
    /** Payloads smaller than this are sent raw: LZ4 cannot win much on them. */
    static final int COMPRESS_MIN = 256;
    static final int FLAG_LZ4 = 1;

    private static final LZ4Factory LZ4 = LZ4Factory.fastestInstance();
    private static final LZ4Compressor COMPRESSOR = LZ4.fastCompressor();
    private static final LZ4FastDecompressor DECOMPRESSOR = LZ4.fastDecompressor();

    private FrameCodec() {
    }

    /** Writes {@code frame} into {@code out}, compressing the payload when that makes it smaller. */
    public static void encode(Frame frame, ByteBuf out) {
        byte[] raw = frame.payload();
        if (raw.length > MAX_PAYLOAD) throw new IllegalArgumentException("payload over " + MAX_PAYLOAD + " bytes");
        byte[] wire = raw;
        int wireLen = raw.length;
        int flags = 0;
        if (raw.length >= COMPRESS_MIN) {
            byte[] c = new byte[COMPRESSOR.maxCompressedLength(raw.length)];
            int n = COMPRESSOR.compress(raw, 0, raw.length, c, 0, c.length);
            if (n < raw.length) {
                wire = c;
                wireLen = n;
                flags = FLAG_LZ4;
            }
        }
        int start = out.writerIndex();
        out.ensureWritable(HEADER + wireLen + TRAILER);
        out.writeInt(MAGIC).writeByte(frame.type().code()).writeByte(flags).writeShort(0)
                .writeLong(frame.generation()).writeLong(frame.epoch()).writeInt(wireLen).writeInt(raw.length)
                .writeBytes(wire, 0, wireLen);
        out.writeInt(crc(out, start, HEADER + wireLen));
    }

    /** Bytes {@code frame} occupies on the wire (compressing to find out). */
    public static int wireSize(Frame frame, ByteBuf scratch) {
        scratch.clear();
        encode(frame, scratch);
        return scratch.readableBytes();
    }

    /**
     * Decodes one frame if {@code in} holds a whole one; returns null (consuming nothing) if more bytes are needed.
     *
     * @throws ProtocolException for anything that is not a valid frame; the caller should drop the connection
     */
    public static Frame decode(ByteBuf in) throws ProtocolException {
        if (in.readableBytes() < HEADER) return null;
        int start = in.readerIndex();
        int magic = in.getInt(start);
        if (magic != MAGIC) throw new ProtocolException("bad magic 0x" + Integer.toHexString(magic));
        int code = in.getUnsignedByte(start + 4);
        int flags = in.getUnsignedByte(start + 5);
        FrameType type = FrameType.ofCode(code);
        if (type == null) throw new ProtocolException("unknown frame type " + code);
        if ((flags & ~FLAG_LZ4) != 0 || in.getUnsignedShort(start + 6) != 0) {
            throw new ProtocolException("unknown flags 0x" + Integer.toHexString(flags));
        }
        long wireLen = in.getUnsignedInt(start + 24);
        long rawLen = in.getUnsignedInt(start + 28);
        if (rawLen > MAX_PAYLOAD || wireLen > MAX_PAYLOAD + (MAX_PAYLOAD >> 6) + 64) {
            throw new ProtocolException("frame length out of range (wire " + wireLen + ", raw " + rawLen + ")");
        }
        if ((flags & FLAG_LZ4) == 0 && wireLen != rawLen) throw new ProtocolException("raw length mismatch");
        int total = HEADER + (int) wireLen + TRAILER;
        if (in.readableBytes() < total) return null;
        int expected = in.getInt(start + HEADER + (int) wireLen);
        if (crc(in, start, HEADER + (int) wireLen) != expected) throw new ProtocolException("checksum mismatch");
        long generation = in.getLong(start + 8);
        long epoch = in.getLong(start + 16);
        byte[] wire = new byte[(int) wireLen];
        in.getBytes(start + HEADER, wire);
        byte[] payload = wire;
        if ((flags & FLAG_LZ4) != 0) {
            payload = new byte[(int) rawLen];
            try {
                int used = DECOMPRESSOR.decompress(wire, 0, payload, 0, (int) rawLen);
                if (used != wireLen) throw new ProtocolException("compressed length mismatch");
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
