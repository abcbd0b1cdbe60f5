package io.checkpointd.protocol.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * {@code tcp-stream-<inode in hex>.img}, CRIU's image of one TCP connection (images/tcp-stream.proto, MIT; written by
 * {@code dump_tcp_conn_state} in criu/sk-tcp.c): {@link ImageFile#IMG_COMMON_MAGIC}, {@link #MAGIC}, one
 * {@code tcp_stream_entry} ({@link #entry}), then the receive queue's {@code inq_len} bytes and the send queue's
 * {@code outq_len} bytes, raw. All image writing for a connection is here.
 */
public final class TcpStreamImage {
    public static final int MAGIC = 0x51465506;
    /** {@code TCPI_OPT_*} bits of {@code opt_mask}. */
    public static final int OPT_TIMESTAMPS = 1, OPT_WSCALE = 4;

    /** {@code tcp_stream_entry} field numbers. */
    public static final int INQ_LEN = 1, INQ_SEQ = 2, OUTQ_LEN = 3, OUTQ_SEQ = 4, OPT_MASK = 5, SND_WSCALE = 6, MSS_CLAMP = 7,
            RCV_WSCALE = 8, TIMESTAMP = 9, UNSQ_LEN = 12, SND_WL1 = 13, SND_WND = 14, MAX_WINDOW = 15, RCV_WND = 16, RCV_WUP = 17;

    private final ProtoMessage entry;
    private final byte[] inq, outq;

    private TcpStreamImage(ProtoMessage entry, byte[] inq, byte[] outq) {
        this.entry = entry;
        this.inq = inq;
        this.outq = outq;
    }

    /** The image's file name for the socket with inode {@code ino}. */
    public static String name(long ino) {
        return "tcp-stream-" + Long.toHexString(ino) + ".img";
    }

    /**
     * An image of {@code entry} (a {@code tcp_stream_entry} whose {@code inq_len} and {@code outq_len} are the lengths
     * of {@code inq} and {@code outq}) and the queues' bytes.
     */
    public static TcpStreamImage of(ProtoMessage entry, byte[] inq, byte[] outq) {
        if (entry.varint(INQ_LEN) != inq.length || entry.varint(OUTQ_LEN) != outq.length) {
            throw new IllegalArgumentException("queue lengths " + inq.length + "/" + outq.length + " differ from the entry's "
                    + entry.varint(INQ_LEN) + "/" + entry.varint(OUTQ_LEN));
        }
        return new TcpStreamImage(entry.copy(), inq.clone(), outq.clone());
    }

    /** Parses an image as CRIU writes it. */
    public static TcpStreamImage parse(byte[] file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 12 || b.getInt() != ImageFile.IMG_COMMON_MAGIC || b.getInt() != MAGIC) {
            throw new IOException("not a CRIU tcp-stream image");
        }
        int size = b.getInt();
        if (size < 0 || size > b.remaining()) throw new IOException("tcp-stream entry size out of range: " + size);
        ProtoMessage e = ProtoMessage.parse(file, b.position(), size);
        b.position(b.position() + size);
        long in = e.varint(INQ_LEN), out = e.varint(OUTQ_LEN);
        if (in + out != b.remaining()) throw new IOException("tcp-stream queues: " + b.remaining() + " bytes, entry says " + in + " + " + out);
        byte[] inq = new byte[(int) in], outq = new byte[(int) out];
        b.get(inq).get(outq);
        return new TcpStreamImage(e, inq, outq);
    }

    /** A copy of the entry. */
    public ProtoMessage entry() {
        return entry.copy();
    }

    public byte[] inq() {
        return inq.clone();
    }

    public byte[] outq() {
        return outq.clone();
    }

    public byte[] encode() {
        byte[] e = entry.encode();
        ByteArrayOutputStream out = new ByteArrayOutputStream(12 + e.length + inq.length + outq.length);
        ByteBuffer w = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        w.putInt(ImageFile.IMG_COMMON_MAGIC).putInt(MAGIC).putInt(e.length);
        out.writeBytes(w.array());
        out.writeBytes(e);
        out.writeBytes(inq);
        out.writeBytes(outq);
        return out.toByteArray();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TcpStreamImage t && Arrays.equals(encode(), t.encode());
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encode());
    }
}
