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
     * slot for and {@code changed} does not name, as {@code PE_PARENT}), the other pages in the restore's own pages
     * files, and a {@code parent} link. Nothing is synced: CRIU reads the files from the page cache, and a backup that
     * crashes during a failover writes them again.
     *
     * @param changed per pagemap, sorted page numbers whose slot in the parent is stale (epochs it has not caught up)
     */
    static Written write(Path target, ImagePlan plan, Map<String, ParentLayout> layouts, Map<String, long[]> changed, Path parent) throws IOException {
        Files.createDirectories(target);
        Map<Path, FileChannel> open = new HashMap<>();
        long copied = 0, t0 = System.nanoTime(), filesNanos;
        try {
            plan.writeFiles(target, false, plan.pagemaps.keySet(), open);
            filesNanos = System.nanoTime() - t0;
            for (var e : plan.pagemaps.entrySet()) {
                ParentLayout layout = layouts.get(e.getKey());
                long[] stale = changed.getOrDefault(e.getKey(), new long[0]);
                PageTable refs = plan.pages.get(e.getKey());
                List<Pagemap.Run> runs = new ArrayList<>();
                try (FileChannel out = FileChannel.open(target.resolve(e.getValue().pagesFileName()), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                     PageCopier copier = new PageCopier(open, out)) {
                    int si = 0;
                    for (Pagemap.Run r : e.getValue().runs()) {
                        if (!r.present()) {
                            runs.add(r);
                            continue;
                        }
                        long first = r.vaddr() >>> 12, end = first + r.nrPages();
                        for (long pn = first; pn < end; ) {
                            while (si < stale.length && stale[si] < pn) si++;
                            boolean isStale = si < stale.length && stale[si] == pn;
                            long stop;
                            boolean inParent;
                            if (isStale) {
                                stop = pn + 1;
                                while (stop < end && si + (stop - pn) < stale.length && stale[si + (int) (stop - pn)] == stop) stop++;
                                inParent = false;
                            } else {
                                stop = layout == null ? end : layout.stretchEnd(pn, end);
                                if (si < stale.length) stop = Math.min(stop, stale[si]);
                                inParent = layout != null && layout.indexOf(pn) >= 0;
                            }
                            int flags = inParent ? (r.flags() & ~Pagemap.PE_PRESENT) | Pagemap.PE_PARENT : r.flags();
                            runs.add(new Pagemap.Run(pn << 12, stop - pn, flags, -1));
                            if (!inParent) {
                                for (long p = pn; p < stop; p++) {
                                    ImagePlan.PageRef ref = refs.get(p << 12);
                                    if (ref == null) throw new IOException("no data for page 0x" + Long.toHexString(p << 12) + " of " + e.getKey());
                                    copier.add(ref);
                                    copied++;
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
        return new Written(copied, filesNanos);
    }

    /** What {@link #write} did: pages copied from the store, and the time the image's other files took. */
    record Written(long copiedPages, long filesNanos) {
    }

    /**
     * Appends stored pages to a pages file, reading each stretch that lies back to back in one store file with one
     * read and writing in large chunks: a failover after a standby layout copies a hundred thousand pages or more.
     */
    private static final class PageCopier implements AutoCloseable {
        private static final int CHUNK = 1 << 20;
        private final Map<Path, FileChannel> open;
        private final FileChannel out;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
        private Path file;
        private long from, to;

        PageCopier(Map<Path, FileChannel> open, FileChannel out) {
            this.open = open;
            this.out = out;
        }

        void add(ImagePlan.PageRef r) throws IOException {
            if (r.file().equals(file) && r.offset() == to && to - from < CHUNK) {
                to += Pagemap.PAGE_SIZE;
                return;
            }
            flush();
            file = r.file();
            from = r.offset();
            to = from + Pagemap.PAGE_SIZE;
        }

        private void flush() throws IOException {
            if (file == null) return;
            int len = (int) (to - from);
            if (buf.remaining() < len) drain();
            FileChannel in = open.get(file);
            if (in == null) {
                in = FileChannel.open(file, StandardOpenOption.READ);
                open.put(file, in);
            }
            int limit = buf.position() + len;
            ByteBuffer slice = buf.duplicate().limit(limit);
            while (slice.hasRemaining()) {
                if (in.read(slice, from + slice.position() - buf.position()) < 0) throw new IOException("short page in " + file);
            }
            buf.position(limit);
            file = null;
        }

        private void drain() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) out.write(buf);
            buf.clear();
        }

        @Override
        public void close() throws IOException {
            flush();
            drain();
        }
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
