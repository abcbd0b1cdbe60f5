package io.checkpointd.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * The hand-written protobuf codec the CRIU image classes used before protobuf-java (issue #18), kept only as the
 * baseline of {@link CodecBenchmark}; nothing else may use it. Trimmed to what the benchmark calls.
 *
 * <p>A protobuf message as the list of its fields in wire order, for patching CRIU images without knowing their
 * whole schema. Every field keeps its exact original encoding (tag, value, length prefix) until it is set, so
 * {@code parse(x).encode()} is byte-identical to {@code x}, and fields this class is never asked about (unknown
 * ones included) pass through untouched.
 *
 * <p>Fields written anew are encoded the way protobuf-c encodes CRIU's proto2 definitions: minimal varints, a
 * new field inserted before the first field with a higher number (protobuf-c writes fields in ascending number
 * order), repeated scalars unpacked (proto2 without {@code [packed=true]}, which no CRIU .proto uses). Signed
 * types are the caller's business: pass an {@code int32}/{@code int64} as its sign-extended long (ten bytes when
 * negative, as protobuf-c writes it) and a {@code sint*} through {@link #zigzag}.
 *
 * <p>Nested messages returned by {@link #message} are live views: changing them changes this message. Not
 * thread-safe. Groups (wire types 3 and 4, unused by CRIU) are rejected.
 */
final class ProtoMessageBaseline {
    public static final int VARINT = 0, I64 = 1, LEN = 2, I32 = 5;

    private final List<Field> fields;

    /** An empty message. */
    public ProtoMessageBaseline() {
        this.fields = new ArrayList<>();
    }

    private ProtoMessageBaseline(List<Field> fields) {
        this.fields = fields;
    }

    /** One field occurrence: its original tag bytes, optional original length prefix, and value bytes. */
    private static final class Field {
        final int number;
        final int wire;
        final byte[] tag;
        /** LEN only: the length prefix as it was read, or null when the field was built here. */
        final byte[] lenPrefix;
        /** Varint bytes, fixed bytes, or the LEN content. */
        final byte[] value;
        /** LEN fields read as a nested message; encoded from this when set. */
        ProtoMessageBaseline child;

        Field(int number, int wire, byte[] tag, byte[] lenPrefix, byte[] value) {
            this.number = number;
            this.wire = wire;
            this.tag = tag;
            this.lenPrefix = lenPrefix;
            this.value = value;
        }

        void encodeTo(ByteArrayOutputStream out) {
            out.writeBytes(tag);
            if (wire != LEN) {
                out.writeBytes(value);
                return;
            }
            byte[] content = child != null ? child.encode() : value;
            // keep a (possibly non-minimal) original length prefix as long as the content did not change
            if (lenPrefix != null && (content == value || Arrays.equals(content, value))) {
                out.writeBytes(lenPrefix);
            } else {
                out.writeBytes(varintBytes(content.length));
            }
            out.writeBytes(content);
        }

        Field copy() {
            Field f = new Field(number, wire, tag, lenPrefix, value);
            if (child != null) f.child = child.copy();
            return f;
        }
    }

    // ---- parse / encode ----

    public static ProtoMessageBaseline parse(byte[] b) throws IOException {
        return parse(b, 0, b.length);
    }

    public static ProtoMessageBaseline parse(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        List<Field> fields = new ArrayList<>();
        int end = off + len;
        int p = off;
        while (p < end) {
            int tagStart = p;
            long[] kv = readVarint(b, p, end);
            long key = kv[0];
            p = (int) kv[1];
            int wire = (int) (key & 7);
            long number = key >>> 3;
            if (number < 1 || number > 0x1fffffff) throw new IOException("bad protobuf field number " + number);
            byte[] tag = Arrays.copyOfRange(b, tagStart, p);
            switch (wire) {
                case VARINT -> {
                    int s = p;
                    p = (int) readVarint(b, p, end)[1];
                    fields.add(new Field((int) number, wire, tag, null, Arrays.copyOfRange(b, s, p)));
                }
                case I64, I32 -> {
                    int n = wire == I64 ? 8 : 4;
                    if (end - p < n) throw new IOException("truncated fixed field " + number);
                    fields.add(new Field((int) number, wire, tag, null, Arrays.copyOfRange(b, p, p + n)));
                    p += n;
                }
                case LEN -> {
                    int s = p;
                    long[] lv = readVarint(b, p, end);
                    p = (int) lv[1];
                    if (lv[0] < 0 || lv[0] > end - p) throw new IOException("truncated field " + number);
                    byte[] prefix = Arrays.copyOfRange(b, s, p);
                    int n = (int) lv[0];
                    fields.add(new Field((int) number, wire, tag, prefix, Arrays.copyOfRange(b, p, p + n)));
                    p += n;
                }
                default -> throw new IOException("unsupported protobuf wire type " + wire + " (field " + number + ")");
            }
        }
        return new ProtoMessageBaseline(fields);
    }

    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Field f : fields) f.encodeTo(out);
        return out.toByteArray();
    }

    /** A deep copy, independent of this message. */
    public ProtoMessageBaseline copy() {
        List<Field> c = new ArrayList<>(fields.size());
        for (Field f : fields) c.add(f.copy());
        return new ProtoMessageBaseline(c);
    }

    // ---- varint scalars ----

    /** A varint field's value (the last occurrence, as protobuf reads a non-repeated field), if present. */
    public OptionalLong findVarint(int number) {
        Field f = last(number);
        if (f == null) return OptionalLong.empty();
        requireWire(f, VARINT);
        return OptionalLong.of(decodeVarint(f.value));
    }

    /** A varint field's value; {@link IllegalStateException} if absent. */
    public long varint(int number) {
        return findVarint(number).orElseThrow(() -> new IllegalStateException("field " + number + " absent"));
    }

    /**
     * Sets a varint field: the first occurrence takes the value (keeping its tag bytes and, if the value is
     * unchanged, its value bytes), later occurrences are dropped; absent, it is inserted in number order.
     */
    public void setVarint(int number, long value) {
        int i = indexOf(number);
        if (i < 0) {
            insertOrdered(newField(number, VARINT, varintBytes(value)));
            return;
        }
        Field f = fields.get(i);
        requireWire(f, VARINT);
        if (decodeVarint(f.value) != value) fields.set(i, new Field(number, VARINT, f.tag, null, varintBytes(value)));
        removeAfter(number, i);
    }

    // ---- repeated scalars ----

    /** All values of a repeated varint field, accepting packed and unpacked occurrences (mixed, too). */
    public long[] repeatedVarints(int number) {
        long[] out = new long[16];
        int n = 0;
        for (Field f : fields) {
            if (f.number != number) continue;
            if (f.wire == VARINT) {
                if (n == out.length) out = Arrays.copyOf(out, n * 2);
                out[n++] = decodeVarint(f.value);
            } else if (f.wire == LEN) {
                int p = 0;
                while (p < f.value.length) {
                    long[] kv;
                    try {
                        kv = readVarint(f.value, p, f.value.length);
                    } catch (IOException e) {
                        throw new IllegalStateException("field " + number + ": bad packed varints", e);
                    }
                    if (n == out.length) out = Arrays.copyOf(out, n * 2);
                    out[n++] = kv[0];
                    p = (int) kv[1];
                }
            } else {
                throw new IllegalStateException("field " + number + " has wire type " + f.wire + ", not varint");
            }
        }
        return Arrays.copyOf(out, n);
    }

    /**
     * Replaces a repeated varint field's values where its first occurrence was. Keeps the original's style
     * (one packed field if it was packed, one field per value otherwise); a field that was absent is written
     * unpacked, as protobuf-c writes CRIU's proto2 repeated fields. Equal values leave the bytes untouched.
     * An empty array removes the field.
     */
    public void setRepeatedVarints(int number, long[] values) {
        if (Arrays.equals(repeatedVarints(number), values)) return;
        int i = indexOf(number);
        boolean packed = i >= 0 && fields.get(i).wire == LEN;
        byte[] tagBytes = i >= 0 ? fields.get(i).tag : null;
        List<Field> repl = new ArrayList<>();
        if (values.length > 0 && packed) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (long v : values) b.writeBytes(varintBytes(v));
            repl.add(new Field(number, LEN, tagBytes, null, b.toByteArray()));
        } else {
            byte[] t = tagBytes != null ? tagBytes : tagBytes(number, VARINT);
            for (long v : values) repl.add(new Field(number, VARINT, t, null, varintBytes(v)));
        }
        int i0 = indexOf(number);
        fields.removeIf(f -> f.number == number);
        fields.addAll(i0, repl);
    }

    // ---- nested messages ----

    /** The nested message in a LEN field (the last occurrence) as a live view, or null if absent. */
    public ProtoMessageBaseline message(int number) {
        Field f = last(number);
        return f == null ? null : child(f);
    }

    /** Like {@link #message}, but inserts an empty nested message (in number order) if absent. */
    public ProtoMessageBaseline messageOrAdd(int number) {
        ProtoMessageBaseline m = message(number);
        if (m != null) return m;
        Field f = newField(number, LEN, new byte[0]);
        f.child = new ProtoMessageBaseline();
        insertOrdered(f);
        return f.child;
    }

    // ---- wire helpers ----

    /** The minimal varint encoding of {@code v} read as an unsigned 64-bit value. */
    public static byte[] varintBytes(long v) {
        byte[] b = new byte[10];
        int n = 0;
        while ((v & ~0x7fL) != 0) {
            b[n++] = (byte) ((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        b[n++] = (byte) v;
        return Arrays.copyOf(b, n);
    }

    /** Reads a varint at {@code p}: returns {value, position after it}. */
    static long[] readVarint(byte[] b, int p, int end) throws IOException {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p >= end) throw new IOException("truncated varint");
            byte x = b[p++];
            v |= (long) (x & 0x7f) << shift;
            if (x >= 0) return new long[] {v, p};
        }
        throw new IOException("varint too long");
    }

    private static long decodeVarint(byte[] b) {
        try {
            return readVarint(b, 0, b.length)[0];
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] tagBytes(int number, int wire) {
        return varintBytes(((long) number << 3) | wire);
    }

    private static Field newField(int number, int wire, byte[] value) {
        return new Field(number, wire, tagBytes(number, wire), null, value);
    }

    private static void requireWire(Field f, int wire) {
        if (f.wire != wire) {
            throw new IllegalStateException("field " + f.number + " has wire type " + f.wire + ", expected " + wire);
        }
    }

    private static ProtoMessageBaseline child(Field f) {
        requireWire(f, LEN);
        if (f.child == null) {
            try {
                f.child = parse(f.value);
            } catch (IOException e) {
                throw new IllegalStateException("field " + f.number + " is not a message: " + e.getMessage(), e);
            }
        }
        return f.child;
    }

    private int indexOf(int number) {
        for (int i = 0; i < fields.size(); i++) if (fields.get(i).number == number) return i;
        return -1;
    }

    private Field last(int number) {
        for (int i = fields.size() - 1; i >= 0; i--) if (fields.get(i).number == number) return fields.get(i);
        return null;
    }

    private void removeAfter(int number, int keep) {
        for (int i = fields.size() - 1; i > keep; i--) if (fields.get(i).number == number) fields.remove(i);
    }

    private void insertOrdered(Field f) {
        int i = 0;
        while (i < fields.size() && fields.get(i).number <= f.number) i++;
        fields.add(i, f);
    }
}
