package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The restore image a failover gets from the {@link StandbyImage}: an incremental CRIU image on top of the standby's
 * parent, as CRIU's own {@code --prev-images-dir} dumps are, so only the pages the parent lacks are written.
 */
final class StandbyRestoreImage {
    private StandbyRestoreImage() {
    }

    /**
     * Writes into {@code target} the plan's files, its pagemaps pointing into the parent (pages {@code layouts} has a
     * slot for, as {@code PE_PARENT}), the extra pages in the restore's own pages files, and a {@code parent} link.
     */
    static void write(Path target, ImagePlan plan, Map<String, ParentLayout> layouts, Path parent) throws IOException {
        Files.createDirectories(target);
        Map<Path, FileChannel> open = new HashMap<>();
        ByteBuffer page = ByteBuffer.allocateDirect(Pagemap.PAGE_SIZE);
        try {
            plan.writeFiles(target, false, plan.pagemaps.keySet(), open);
            for (var e : plan.pagemaps.entrySet()) {
                ParentLayout layout = layouts.get(e.getKey());
                PageTable refs = plan.pages.get(e.getKey());
                List<Pagemap.Run> runs = new ArrayList<>();
                try (FileChannel out = FileChannel.open(target.resolve(e.getValue().pagesFileName()), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                    for (Pagemap.Run r : e.getValue().runs()) {
                        if (!r.present()) {
                            runs.add(r);
                            continue;
                        }
                        long first = r.vaddr() >>> 12, end = first + r.nrPages();
                        for (long pn = first; pn < end; ) {
                            long stop = layout == null ? end : layout.stretchEnd(pn, end);
                            boolean inParent = layout != null && layout.indexOf(pn) >= 0;
                            int flags = inParent ? (r.flags() & ~Pagemap.PE_PRESENT) | Pagemap.PE_PARENT : r.flags();
                            runs.add(new Pagemap.Run(pn << 12, stop - pn, flags, -1));
                            if (!inParent) {
                                for (long p = pn; p < stop; p++) {
                                    ImagePlan.PageRef ref = refs.get(p << 12);
                                    if (ref == null) throw new IOException("no data for page 0x" + Long.toHexString(p << 12) + " of " + e.getKey());
                                    copyPage(open, ref, page, out, -1);
                                }
                            }
                            pn = stop;
                        }
                    }
                }
                Files.write(target.resolve(e.getKey()), Pagemap.of(e.getValue().pagesId(), runs).encode(), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            }
        } finally {
            for (FileChannel c : open.values()) c.close();
        }
        Files.createSymbolicLink(target.resolve("parent"), parent.toAbsolutePath());
    }

    /** Reads one stored page into {@code page} and writes it at {@code at} ({@code -1}: at the end) of {@code out}. */
    static void copyPage(Map<Path, FileChannel> open, ImagePlan.PageRef r, ByteBuffer page, FileChannel out, long at) throws IOException {
        FileChannel in = open.get(r.file());
        if (in == null) {
            in = FileChannel.open(r.file(), StandardOpenOption.READ);
            open.put(r.file(), in);
        }
        page.clear();
        while (page.hasRemaining()) {
            if (in.read(page, r.offset() + page.position()) < 0) throw new IOException("short page in " + r.file());
        }
        page.flip();
        while (page.hasRemaining()) {
            if (at < 0) out.write(page);
            else out.write(page, at + page.position());
        }
    }
}
