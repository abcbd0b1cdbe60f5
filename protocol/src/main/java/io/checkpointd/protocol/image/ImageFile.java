package io.checkpointd.protocol.image;

import com.google.protobuf.MessageLite;
import com.google.protobuf.Parser;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The framing of a CRIU protobuf image file (criu/image.c, MIT): a head magic {@link #IMG_COMMON_MAGIC} (or
 * {@link #IMG_SERVICE_MAGIC} for service files such as stats), the image type's magic, then entries of
 * {@code u32 size (little-endian) + protobuf message}. {@code inventory.img} and images from CRIU before 1.5 have
 * the type magic alone. Raw images ({@code pages-*.img}) and images that put raw payloads between entries
 * (ghost files, socket queues) are not of this kind; core, mm and pagemap images are.
 *
 * <p>Immutable; {@code parse(x).encode()} is byte-identical to {@code x}.
 */
public final class ImageFile {
    public static final int IMG_COMMON_MAGIC = 0x54564319;
    public static final int IMG_SERVICE_MAGIC = 0x55105940;
    public static final int INVENTORY_MAGIC = 0x58313116;
    public static final int PAGEMAP_MAGIC = 0x56084025;
    public static final int CORE_MAGIC = 0x55053847;
    public static final int MM_MAGIC = 0x57492820;

    /** 0 (no head magic), IMG_COMMON_MAGIC or IMG_SERVICE_MAGIC. */
    private final int headMagic;
    private final int typeMagic;
    private final List<byte[]> entries;

    private ImageFile(int headMagic, int typeMagic, List<byte[]> entries) {
        this.headMagic = headMagic;
        this.typeMagic = typeMagic;
        this.entries = entries;
    }

    /** A new image as CRIU 4.x writes it: IMG_COMMON_MAGIC, {@code typeMagic}, the entries. */
    public static ImageFile of(int typeMagic, List<byte[]> entries) {
        return new ImageFile(IMG_COMMON_MAGIC, typeMagic, copy(entries));
    }

    /**
     * Parses an image and checks that its type magic is {@code expectedTypeMagic}.
     *
     * @throws IOException if the magic differs or an entry is truncated
     */
    public static ImageFile parse(byte[] file, int expectedTypeMagic) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 4) throw new IOException("not a CRIU image: " + file.length + " bytes");
        int head = b.getInt();
        int type = head;
        if (head == IMG_COMMON_MAGIC || head == IMG_SERVICE_MAGIC) {
            if (b.remaining() < 4) throw new IOException("CRIU image without a type magic");
            type = b.getInt();
        } else {
            head = 0;
        }
        if (type != expectedTypeMagic) {
            throw new IOException(String.format("CRIU image magic 0x%08x, expected 0x%08x", type, expectedTypeMagic));
        }
        List<byte[]> entries = new ArrayList<>();
        while (b.hasRemaining()) {
            if (b.remaining() < 4) throw new IOException("truncated CRIU image entry size");
            int size = b.getInt();
            if (size < 0 || size > b.remaining()) throw new IOException("CRIU image entry size out of range: " + size);
            byte[] e = new byte[size];
            b.get(e);
            entries.add(e);
        }
        return new ImageFile(head, type, entries);
    }

    public int typeMagic() {
        return typeMagic;
    }

    public int entryCount() {
        return entries.size();
    }

    /** A copy of entry {@code i}'s protobuf bytes. */
    public byte[] entry(int i) {
        return entries.get(i).clone();
    }

    /**
     * Entry {@code i} parsed with a parser of the generated CRIU classes ({@code pstree_entry.parser()}, ...).
     * Fields the .proto files do not know are kept and written back by {@code toByteArray()}.
     *
     * @throws IOException if the entry is not that message (malformed, or a required field missing)
     */
    public <T extends MessageLite> T message(int i, Parser<T> parser) throws IOException {
        return parser.parseFrom(entries.get(i));
    }

    /** The same image (head and type magic) with these messages as entries. */
    public ImageFile withMessages(List<? extends MessageLite> messages) {
        List<byte[]> c = new ArrayList<>(messages.size());
        for (MessageLite m : messages) c.add(m.toByteArray());
        return new ImageFile(headMagic, typeMagic, List.copyOf(c));
    }

    /** The same image (head and type magic) with other entries. */
    public ImageFile withEntries(List<byte[]> newEntries) {
        return new ImageFile(headMagic, typeMagic, copy(newEntries));
    }

    public byte[] encode() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer w = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        if (headMagic != 0) out.writeBytes(w.putInt(0, headMagic).array());
        out.writeBytes(w.putInt(0, typeMagic).array());
        for (byte[] e : entries) {
            out.writeBytes(w.putInt(0, e.length).array());
            out.writeBytes(e);
        }
        return out.toByteArray();
    }

    private static List<byte[]> copy(List<byte[]> entries) {
        List<byte[]> c = new ArrayList<>(entries.size());
        for (byte[] e : entries) c.add(Arrays.copyOf(e, e.length));
        return List.copyOf(c);
    }
}
