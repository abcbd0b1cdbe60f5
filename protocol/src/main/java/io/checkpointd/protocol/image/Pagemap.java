package io.checkpointd.protocol.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A CRIU {@code pagemap-*.img}: which virtual pages of one memory owner were dumped, and where their bytes sit in
 * the companion {@code pages-<id>.img}. Only what checkpointd needs to compare and rebuild page data is decoded.
 *
 * <p>Layout (CRIU's images/pagemap.proto, MIT): u32 IMG_COMMON_MAGIC, u32 PAGEMAP_MAGIC, then entries of
 * {@code u32 size + protobuf}: first a {@code pagemap_head{pages_id=1}}, then {@code pagemap_entry{vaddr=1,
 * compat_nr_pages=2, in_parent=3, flags=4, nr_pages=5}}. Entries flagged PE_PRESENT have their pages, in order,
 * in the pages file; PE_PARENT entries live in a parent image; others (lazy, holes) have no data here.
 */
public final class Pagemap {
    public static final int PAGE_SIZE = 4096;
    public static final int IMG_COMMON_MAGIC = 0x54564319;
    public static final int PAGEMAP_MAGIC = 0x56084025;
    public static final int PE_PARENT = 1, PE_LAZY = 2, PE_PRESENT = 4;

    /** One run of pages: {@code dataIndex} is the page's index in the pages file, or -1 if it has no data there. */
    public record Run(long vaddr, long nrPages, int flags, long dataIndex) {
        public boolean present() {
            return dataIndex >= 0;
        }
    }

    private final int pagesId;
    private final List<Run> runs;
    private final long presentPages;

    private Pagemap(int pagesId, List<Run> runs, long presentPages) {
        this.pagesId = pagesId;
        this.runs = runs;
        this.presentPages = presentPages;
    }

    /** True if a file name is a CRIU pagemap image ({@code pagemap-*.img}, including shmem pagemaps). */
    public static boolean isPagemapName(String name) {
        return name.startsWith("pagemap-") && name.endsWith(".img");
    }

    /** True if a file name is CRIU page data ({@code pages-*.img}). */
    public static boolean isPagesName(String name) {
        return name.startsWith("pages-") && name.endsWith(".img");
    }

    public static Pagemap parse(byte[] image) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 8 || b.getInt() != IMG_COMMON_MAGIC || b.getInt() != PAGEMAP_MAGIC) {
            throw new IOException("not a CRIU pagemap image");
        }
        int pagesId = -1;
        List<Run> runs = new ArrayList<>();
        long dataIndex = 0;
        boolean head = true;
        while (b.hasRemaining()) {
            if (b.remaining() < 4) throw new IOException("truncated pagemap entry size");
            int size = b.getInt();
            if (size < 0 || size > b.remaining()) throw new IOException("pagemap entry size out of range: " + size);
            ByteBuffer m = b.slice().limit(size).order(ByteOrder.LITTLE_ENDIAN);
            b.position(b.position() + size);
            if (head) {
                pagesId = (int) field(m, 1, 0);
                head = false;
                continue;
            }
            long vaddr = 0, compatNr = 0, nr = -1;
            int flags = -1;
            boolean inParent = false;
            while (m.hasRemaining()) {
                long key = varint(m);
                int fieldNo = (int) (key >>> 3), wire = (int) (key & 7);
                if (wire != 0) {
                    skip(m, wire);
                    continue;
                }
                long v = varint(m);
                switch (fieldNo) {
                    case 1 -> vaddr = v;
                    case 2 -> compatNr = v;
                    case 3 -> inParent = v != 0;
                    case 4 -> flags = (int) v;
                    case 5 -> nr = v;
                    default -> { }
                }
            }
            long pages = nr >= 0 ? nr : compatNr;
            // old images carry no flags: in_parent decides, as in CRIU's page-read.c
            if (flags < 0) flags = inParent ? PE_PARENT : PE_PRESENT;
            boolean present = (flags & PE_PRESENT) != 0;
            runs.add(new Run(vaddr, pages, flags, present ? dataIndex : -1));
            if (present) dataIndex += pages;
        }
        if (pagesId < 0) throw new IOException("pagemap image has no head");
        return new Pagemap(pagesId, List.copyOf(runs), dataIndex);
    }

    private static long field(ByteBuffer m, int wanted, long dflt) throws IOException {
        long result = dflt;
        while (m.hasRemaining()) {
            long key = varint(m);
            int wire = (int) (key & 7);
            if (wire != 0) {
                skip(m, wire);
                continue;
            }
            long v = varint(m);
            if ((key >>> 3) == wanted) result = v;
        }
        return result;
    }

    private static long varint(ByteBuffer m) throws IOException {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (!m.hasRemaining()) throw new IOException("truncated varint");
            byte x = m.get();
            v |= (long) (x & 0x7f) << shift;
            if (x >= 0) return v;
        }
        throw new IOException("varint too long");
    }

    private static void skip(ByteBuffer m, int wire) throws IOException {
        switch (wire) {
            case 1 -> m.position(m.position() + 8);
            case 2 -> {
                long len = varint(m);
                if (len > m.remaining()) throw new IOException("truncated field");
                m.position(m.position() + (int) len);
            }
            case 5 -> m.position(m.position() + 4);
            default -> throw new IOException("unsupported protobuf wire type " + wire);
        }
    }

    /** The id N of the companion {@code pages-N.img}. */
    public int pagesId() {
        return pagesId;
    }

    public String pagesFileName() {
        return "pages-" + pagesId + ".img";
    }

    public List<Run> runs() {
        return runs;
    }

    /** Pages whose data is in the pages file: its size must be this × 4096. */
    public long presentPages() {
        return presentPages;
    }

    /** Calls {@code visitor} for every present page, in pages-file order. */
    public void forEachPresentPage(PageVisitor visitor) throws IOException {
        for (Run r : runs) {
            if (!r.present()) continue;
            for (long i = 0; i < r.nrPages(); i++) visitor.page(r.vaddr() + i * PAGE_SIZE, r.dataIndex() + i);
        }
    }

    /** Receives (virtual address, index of the page in the pages file). */
    @FunctionalInterface
    public interface PageVisitor {
        void page(long vaddr, long dataIndex) throws IOException;
    }
}
