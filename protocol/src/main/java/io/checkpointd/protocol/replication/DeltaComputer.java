package io.checkpointd.protocol.replication;

import io.checkpointd.protocol.image.Pagemap;
import io.checkpointd.protocol.replication.EpochRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Computes what changed between two CRIU image directories of the same process: image files compared whole,
 * memory compared 4 KiB page by page keyed by virtual address (so pages appearing or vanishing elsewhere do not
 * shift the comparison). Emits {@link EpochRecord}s to a sink as it goes; it holds at most one record in memory.
 */
public final class DeltaComputer {
    /** Whole files are shipped in chunks of this size. */
    static final int CHUNK = 1 << 20;

    /** What one delta contained. */
    public record Result(Map<String, Long> manifest, long imageBytes, long changedPages, long shippedFileBytes,
                         int records) {
    }

    /** Receives the records of a delta, in order. */
    @FunctionalInterface
    public interface Sink {
        void accept(EpochRecord record) throws IOException;
    }

    private DeltaComputer() {
    }

    /** True for files of an image directory that belong to the image (logs and CRIU's stats do not). */
    public static boolean isImageFile(String name) {
        return name.endsWith(".img") && !name.startsWith("stats-");
    }

    /**
     * @param prev the previous epoch's image directory, or null for a full sync
     * @param cur  this epoch's image directory
     */
    public static Result compute(Path prev, Path cur, Sink sink) throws IOException {
        Map<String, Long> curFiles = list(cur);
        Map<String, Long> prevFiles = prev == null ? Map.of() : list(prev);
        long imageBytes = 0, changedPages = 0, fileBytes = 0;
        int records = 0;
        for (Map.Entry<String, Long> e : curFiles.entrySet()) {
            String name = e.getKey();
            imageBytes += e.getValue();
            if (Pagemap.isPagesName(name)) continue; // rebuilt from its pagemap + page deltas
            Path c = cur.resolve(name);
            boolean same = prevFiles.containsKey(name) && Files.mismatch(c, prev.resolve(name)) == -1;
            if (!same) {
                byte[] data = Files.readAllBytes(c);
                records += emitFile(name, data, sink);
                fileBytes += data.length;
            }
            if (Pagemap.isPagemapName(name)) {
                long[] counts = pageDelta(name, prevFiles.containsKey(name) ? prev : null, cur, sink);
                changedPages += counts[0];
                records += (int) counts[1];
            }
        }
        for (String name : prevFiles.keySet()) {
            if (!curFiles.containsKey(name)) {
                sink.accept(new EpochRecord.FileDelete(name));
                records++;
            }
        }
        return new Result(curFiles, imageBytes, changedPages, fileBytes, records);
    }

    /** Emits a whole image file as {@link EpochRecord.FileChunk}s of at most {@link #CHUNK} bytes; returns how many. */
    public static int emitFile(String name, byte[] data, Sink sink) throws IOException {
        int records = 0;
        for (int off = 0; off < data.length || off == 0; off += CHUNK) {
            int len = Math.min(CHUNK, data.length - off);
            sink.accept(new EpochRecord.FileChunk(name, data.length, off, java.util.Arrays.copyOfRange(data, off, off + len)));
            records++;
            if (data.length == 0) break;
        }
        return records;
    }

    private static Map<String, Long> list(Path dir) throws IOException {
        Map<String, Long> files = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (isImageFile(n) && Files.isRegularFile(p)) files.put(n, Files.size(p));
            }
        }
        return new LinkedHashMap<>(files);
    }

    /** @return {changed pages, records emitted} */
    private static long[] pageDelta(String pagemapName, Path prevDir, Path curDir, Sink sink) throws IOException {
        Pagemap cur = Pagemap.parse(Files.readAllBytes(curDir.resolve(pagemapName)));
        Path curPages = curDir.resolve(cur.pagesFileName());
        long expected = cur.presentPages() * Pagemap.PAGE_SIZE;
        long actual = Files.exists(curPages) ? Files.size(curPages) : 0;
        if (actual != expected) {
            throw new IOException(cur.pagesFileName() + " holds " + actual + " bytes, its pagemap describes " + expected);
        }
        Map<Long, Long> prevIndex = new HashMap<>();
        PagesFile prevData = null;
        if (prevDir != null) {
            Pagemap prev = Pagemap.parse(Files.readAllBytes(prevDir.resolve(pagemapName)));
            Path prevPages = prevDir.resolve(prev.pagesFileName());
            if (prev.presentPages() > 0 && Files.size(prevPages) == prev.presentPages() * Pagemap.PAGE_SIZE) {
                prev.forEachPresentPage(prevIndex::put);
                prevData = PagesFile.map(prevPages);
            }
        }
        PagesFile curData = expected == 0 ? null : PagesFile.map(curPages);
        try {
            Batch batch = new Batch(pagemapName, sink);
            final PagesFile pd = prevData;
            cur.forEachPresentPage((vaddr, idx) -> {
                ByteBuffer page = curData.page(idx);
                Long old = prevIndex.get(vaddr);
                if (old == null || pd.page(old).mismatch(page) != -1) batch.add(vaddr, page);
            });
            batch.flush();
            return new long[] {batch.pages, batch.records};
        } finally {
            if (curData != null) curData.close();
            if (prevData != null) prevData.close();
        }
    }

    /**
     * A pages image mapped read-only in 1 GiB windows (a single mapping cannot exceed 2 GiB, a JVM's image can);
     * a window is a whole number of pages, so no page straddles two.
     */
    public static final class PagesFile implements AutoCloseable {
        private static final int WINDOW_SHIFT = 30;
        private final MappedByteBuffer[] windows;

        private PagesFile(MappedByteBuffer[] windows) {
            this.windows = windows;
        }

        public static PagesFile map(Path file) throws IOException {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                long size = ch.size();
                int n = (int) ((size + (1L << WINDOW_SHIFT) - 1) >>> WINDOW_SHIFT);
                MappedByteBuffer[] w = new MappedByteBuffer[n];
                for (int i = 0; i < n; i++) {
                    long off = (long) i << WINDOW_SHIFT;
                    w[i] = ch.map(FileChannel.MapMode.READ_ONLY, off, Math.min(1L << WINDOW_SHIFT, size - off));
                }
                return new PagesFile(w); // mappings stay valid after the channel is closed
            }
        }

        /**
         * Unmaps the windows now rather than at some later GC: the files are deleted from tmpfs right after, and a
         * live mapping keeps their memory (a 1 GiB dump mapped per epoch adds up). No page view may be used after.
         */
        @Override
        public void close() {
            for (int i = 0; i < windows.length; i++) {
                if (windows[i] != null) UNSAFE.invokeCleaner(windows[i]);
                windows[i] = null;
            }
        }

        private static final sun.misc.Unsafe UNSAFE;

        static {
            try {
                java.lang.reflect.Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                UNSAFE = (sun.misc.Unsafe) f.get(null);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        /** The 4 KiB of page {@code index}. */
        public ByteBuffer page(long index) {
            long off = index * Pagemap.PAGE_SIZE;
            return windows[(int) (off >>> WINDOW_SHIFT)].slice((int) (off & ((1L << WINDOW_SHIFT) - 1)), Pagemap.PAGE_SIZE);
        }
    }

    /** Accumulates changed pages into records of at most {@link EpochRecord#MAX_PAGES}. */
    private static final class Batch {
        private final String pagemapName;
        private final Sink sink;
        private final long[] vaddrs = new long[EpochRecord.MAX_PAGES];
        private final byte[] data = new byte[EpochRecord.MAX_PAGES * Pagemap.PAGE_SIZE];
        private int n;
        long pages, records;

        Batch(String pagemapName, Sink sink) {
            this.pagemapName = pagemapName;
            this.sink = sink;
        }

        void add(long vaddr, ByteBuffer page) throws IOException {
            vaddrs[n] = vaddr;
            page.get(data, n * Pagemap.PAGE_SIZE, Pagemap.PAGE_SIZE);
            n++;
            pages++;
            if (n == vaddrs.length) flush();
        }

        /** Always emits one record per pagemap, even empty, so the backup rebuilds a pagemap whose layout changed. */
        void flush() throws IOException {
            if (n == 0 && records > 0) return;
            long[] v = java.util.Arrays.copyOf(vaddrs, n);
            byte[] d = java.util.Arrays.copyOf(data, n * Pagemap.PAGE_SIZE);
            sink.accept(new EpochRecord.PageDelta(pagemapName, v, d));
            records++;
            n = 0;
        }
    }
}
