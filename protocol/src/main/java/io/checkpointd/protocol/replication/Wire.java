package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.ProtocolException;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;

/** Bounds-checked big-endian field encoding for payloads; every decoding error is a {@link ProtocolException}. */
final class Wire {
    static final int MAX_STRING = 4096;

    private Wire() {
    }

    /** A growable writer. */
    static final class Out {
        private final ByteArrayOutputStream bytes;
        private final DataOutputStream out;

        Out(int sizeHint) {
            bytes = new ByteArrayOutputStream(sizeHint);
            out = new DataOutputStream(bytes);
        }

        Out u8(int v) {
            return run(() -> out.writeByte(v));
        }

        Out i32(int v) {
            return run(() -> out.writeInt(v));
        }

        Out i64(long v) {
            return run(() -> out.writeLong(v));
        }

        Out str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            if (b.length > MAX_STRING) throw new IllegalArgumentException("string too long");
            return run(() -> {
                out.writeShort(b.length);
                out.write(b);
            });
        }

        Out bytes(byte[] b, int off, int len) {
            return run(() -> {
                out.writeInt(len);
                out.write(b, off, len);
            });
        }

        Out raw(byte[] b, int off, int len) {
            return run(() -> out.write(b, off, len));
        }

        byte[] toByteArray() {
            return bytes.toByteArray();
        }

        private Out run(IoAction a) {
            try {
                a.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
            }
            return this;
        }
    }

    private interface IoAction {
        void run() throws IOException;
    }

    /** A reader over one payload. */
    static final class In {
        private final ByteBuffer b;

        In(byte[] payload) {
            b = ByteBuffer.wrap(payload);
        }

        int u8() throws ProtocolException {
            try {
                return b.get() & 0xff;
            } catch (BufferUnderflowException e) {
                throw truncated();
            }
        }

        int i32() throws ProtocolException {
            try {
                return b.getInt();
            } catch (BufferUnderflowException e) {
                throw truncated();
            }
        }

        long i64() throws ProtocolException {
            try {
                return b.getLong();
            } catch (BufferUnderflowException e) {
                throw truncated();
            }
        }

        String str() throws ProtocolException {
            int n;
            try {
                n = b.getShort() & 0xffff;
            } catch (BufferUnderflowException e) {
                throw truncated();
            }
            if (n > MAX_STRING || n > b.remaining()) throw truncated();
            byte[] s = new byte[n];
            b.get(s);
            // strict: a lenient decoder would turn malformed bytes into U+FFFD, i.e. another name than the peer sent
            try {
                return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(s)).toString();
            } catch (CharacterCodingException e) {
                throw new ProtocolException("string field is not UTF-8");
            }
        }

        byte[] bytes(int max) throws ProtocolException {
            int n = i32();
            if (n < 0 || n > max || n > b.remaining()) throw new ProtocolException("byte field length out of range: " + n);
            byte[] out = new byte[n];
            b.get(out);
            return out;
        }

        byte[] fixed(int n) throws ProtocolException {
            if (n < 0 || n > b.remaining()) throw truncated();
            byte[] out = new byte[n];
            b.get(out);
            return out;
        }

        int remaining() {
            return b.remaining();
        }

        void end() throws ProtocolException {
            if (b.hasRemaining()) throw new ProtocolException(b.remaining() + " trailing bytes in payload");
        }

        private static ProtocolException truncated() {
            return new ProtocolException("truncated payload");
        }
    }

    /** Rejects a name that could escape an image directory. */
    static String checkName(String name) throws ProtocolException {
        if (name.isEmpty() || name.contains("/") || name.equals(".") || name.equals("..") || name.indexOf('\0') >= 0) {
            throw new ProtocolException("illegal file name in payload");
        }
        return name;
    }

    /** A data-dir path: relative, {@code /}-separated, no empty, {@code .} or {@code ..} part, no NUL. */
    static String checkRelPath(String path) throws ProtocolException {
        if (path.isEmpty() || path.startsWith("/") || path.indexOf('\0') >= 0) throw new ProtocolException("illegal path in payload");
        for (String part : path.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) throw new ProtocolException("illegal path in payload");
        }
        return path;
    }

    /** A data dir's root: absolute, normalized (no empty, {@code .} or {@code ..} part), not {@code /} itself. */
    static String checkRoot(String root) throws ProtocolException {
        if (!root.startsWith("/") || root.length() < 2) throw new ProtocolException("illegal data dir root in payload");
        checkRelPath(root.substring(1));
        return root;
    }
}
