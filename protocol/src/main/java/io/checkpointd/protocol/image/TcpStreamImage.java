package io.checkpointd.protocol.image;

import io.checkpointd.protocol.image.criu.TcpStream.tcp_stream_entry;
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

    private final tcp_stream_entry entry;
    private final byte[] inq, outq;

    private TcpStreamImage(tcp_stream_entry entry, byte[] inq, byte[] outq) {
        this.entry = entry;
        this.inq = inq;
        this.outq = outq;
    }

    /** The image's file name for the socket with inode {@code ino}. */
    public static String name(long ino) {
        return "tcp-stream-" + Long.toHexString(ino) + ".img";
    }

    /** An image of {@code entry}, whose {@code inq_len} and {@code outq_len} are the lengths of {@code inq} and {@code outq}. */
    public static TcpStreamImage of(tcp_stream_entry entry, byte[] inq, byte[] outq) {
        if (Integer.toUnsignedLong(entry.getInqLen()) != inq.length || Integer.toUnsignedLong(entry.getOutqLen()) != outq.length) {
            throw new IllegalArgumentException("queue lengths " + inq.length + "/" + outq.length + " differ from the entry's "
                    + Integer.toUnsignedLong(entry.getInqLen()) + "/" + Integer.toUnsignedLong(entry.getOutqLen()));
        }
        return new TcpStreamImage(entry, inq.clone(), outq.clone());
    }

    /** Parses an image as CRIU writes it. */
    public static TcpStreamImage parse(byte[] file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 12 || b.getInt() != ImageFile.IMG_COMMON_MAGIC || b.getInt() != MAGIC) {
            throw new IOException("not a CRIU tcp-stream image");
        }
        int size = b.getInt();
        if (size < 0 || size > b.remaining()) throw new IOException("tcp-stream entry size out of range: " + size);
        tcp_stream_entry e = tcp_stream_entry.parser().parseFrom(file, b.position(), size);
        b.position(b.position() + size);
        long in = Integer.toUnsignedLong(e.getInqLen()), out = Integer.toUnsignedLong(e.getOutqLen());
        if (in + out != b.remaining()) throw new IOException("tcp-stream queues: " + b.remaining() + " bytes, entry says " + in + " + " + out);
        byte[] inq = new byte[(int) in], outq = new byte[(int) out];
        b.get(inq).get(outq);
        return new TcpStreamImage(e, inq, outq);
    }

    public tcp_stream_entry entry() {
        return entry;
    }

    public byte[] inq() {
        return inq.clone();
    }

    public byte[] outq() {
        return outq.clone();
    }

    public byte[] encode() {
        byte[] e = entry.toByteArray();
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
