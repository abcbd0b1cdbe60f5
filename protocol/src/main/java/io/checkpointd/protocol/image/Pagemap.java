package io.checkpointd.protocol.image;

import io.checkpointd.protocol.image.criu.Pagemap.pagemap_entry;
import io.checkpointd.protocol.image.criu.Pagemap.pagemap_head;

import java.io.IOException;
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
 *
 * <p>{@link #of} and {@link #encode} write a pagemap byte-identical to the one CRIU 4.2 writes for the same runs.
 */
public final class Pagemap {
    public static final int PAGE_SIZE = 4096;
    public static final int IMG_COMMON_MAGIC = ImageFile.IMG_COMMON_MAGIC;
    public static final int PAGEMAP_MAGIC = ImageFile.PAGEMAP_MAGIC;
    public static final int PE_PARENT = 1, PE_LAZY = 2, PE_PRESENT = 4;
    /** Pages of a 64-bit address space: no run, and no pages file, can hold more. */
    public static final long MAX_PAGES = 1L << 52;

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
        ImageFile file;
        try {
            file = ImageFile.parse(image, PAGEMAP_MAGIC);
        } catch (IOException e) {
            throw new IOException("not a CRIU pagemap image: " + e.getMessage(), e);
        }
        if (file.entryCount() == 0) throw new IOException("pagemap image has no head");
        long pagesId;
        try {
            pagesId = file.message(0, pagemap_head.parser()).getPagesId() & 0xffffffffL;
        } catch (IOException e) {
            throw new IOException("bad pagemap head: " + e.getMessage(), e);
        }
        List<Run> runs = new ArrayList<>(file.entryCount() - 1);
        long dataIndex = 0;
        for (int i = 1; i < file.entryCount(); i++) {
            pagemap_entry m;
            try {
                m = file.message(i, pagemap_entry.parser());
            } catch (IOException e) {
                throw new IOException("bad pagemap entry " + i + ": " + e.getMessage(), e);
            }
            long vaddr = m.getVaddr();
            long pages = m.hasNrPages() ? m.getNrPages() : m.getCompatNrPages() & 0xffffffffL;
            // old images carry no flags: in_parent decides, as in CRIU's page-read.c
            int flags = m.hasFlags() ? m.getFlags() : m.getInParent() ? PE_PARENT : PE_PRESENT;
            // nr_pages is a u32 in pagemap.proto, and CRIU dumps whole pages: anything else is not CRIU's image
            if ((vaddr & (PAGE_SIZE - 1)) != 0 || pages < 0 || pages > 0xffffffffL) {
                throw new IOException("bad pagemap entry " + i + ": vaddr 0x" + Long.toHexString(vaddr) + ", "
                        + Long.toUnsignedString(pages) + " pages: out of range");
            }
            boolean present = (flags & PE_PRESENT) != 0;
            runs.add(new Run(vaddr, pages, flags, present ? dataIndex : -1));
            if (present) dataIndex += pages;
            if (dataIndex > MAX_PAGES) throw new IOException("pagemap entry " + i + ": more present pages than an address space holds");
        }
        return new Pagemap((int) pagesId, List.copyOf(runs), dataIndex);
    }

    /**
     * A pagemap of {@code runs} (their {@code vaddr}, {@code nrPages}, {@code flags}; {@code dataIndex} is
     * recomputed from the order of PE_PRESENT runs), whose pages are in {@code pages-<pagesId>.img}.
     */
    public static Pagemap of(int pagesId, List<Run> runs) {
        List<Run> out = new ArrayList<>(runs.size());
        long dataIndex = 0;
        for (Run r : runs) {
            if (r.nrPages() <= 0) throw new IllegalArgumentException("empty run at 0x" + Long.toHexString(r.vaddr()));
            if ((r.vaddr() & (PAGE_SIZE - 1)) != 0) {
                throw new IllegalArgumentException("unaligned run at 0x" + Long.toHexString(r.vaddr()));
            }
            boolean present = (r.flags() & PE_PRESENT) != 0;
            out.add(new Run(r.vaddr(), r.nrPages(), r.flags(), present ? dataIndex : -1));
            if (present) dataIndex += r.nrPages();
        }
        return new Pagemap(pagesId, List.copyOf(out), dataIndex);
    }

    /**
     * The image CRIU 4.2 writes for these runs ({@code criu/page-xfer.c write_pagemap_loc}): a
     * {@code pagemap_head{pages_id}}, then per run {@code pagemap_entry{vaddr, compat_nr_pages = 0 (required,
     * never set), flags, nr_pages}}; {@code in_parent} is left out.
     */
    public byte[] encode() {
        List<byte[]> entries = new ArrayList<>(runs.size() + 1);
        entries.add(pagemap_head.newBuilder().setPagesId(pagesId).build().toByteArray());
        pagemap_entry.Builder e = pagemap_entry.newBuilder();
        for (Run r : runs) {
            e.setVaddr(r.vaddr()).setCompatNrPages(0).setFlags(r.flags()).setNrPages(r.nrPages());
            entries.add(e.build().toByteArray());
        }
        return ImageFile.of(PAGEMAP_MAGIC, entries).encode();
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
