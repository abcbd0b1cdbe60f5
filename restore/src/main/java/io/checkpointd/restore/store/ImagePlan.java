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
import java.util.TreeMap;

/**
 * Where every byte of one committed CRIU image lives: each image file as segments of stored files (the base
 * directory or logged epochs), each memory page as a reference into a stored file. Materializing writes the
 * image out; the plan itself holds no page data, so it stays small however many epochs are logged.
 */
final class ImagePlan {
    /** A byte range of a stored file. */
    record Segment(Path file, long offset, long length, long fileOffset) {
    }

    /** One page's 4 KiB at {@code offset} in {@code file}. */
    record PageRef(Path file, long offset) {
    }

    /** Non-page files: name → segments covering the whole file, in file order. */
    final Map<String, List<Segment>> files = new TreeMap<>();
    final Map<String, Long> sizes = new HashMap<>();
    /** For each pagemap file: its parsed form and every present page's source. */
    final Map<String, Pagemap> pagemaps = new HashMap<>();
    /** Persistent tables: consecutive plans share every part an epoch did not touch. */
    final Map<String, PageTable> pages = new HashMap<>();

    static ImagePlan ofBase(Path base) throws IOException {
        ImagePlan plan = new ImagePlan();
        if (base == null) return plan;
        try (var s = Files.list(base)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (Pagemap.isPagesName(n) || Files.isDirectory(p)) continue; // data/: the data dirs' replica
                long size = Files.size(p);
                plan.files.put(n, List.of(new Segment(p, 0, size, 0)));
                plan.sizes.put(n, size);
            }
        }
        for (String n : new ArrayList<>(plan.files.keySet())) {
            if (!Pagemap.isPagemapName(n)) continue;
            Pagemap pm = Pagemap.parse(Files.readAllBytes(base.resolve(n)));
            Path data = base.resolve(pm.pagesFileName());
            PresentRuns runs = PresentRuns.of(pm);
            PageTable.Editor refs = PageTable.EMPTY.edit();
            pm.forEachPresentPage((vaddr, idx) -> refs.put(vaddr, data, idx * Pagemap.PAGE_SIZE));
            plan.pagemaps.put(n, pm);
            plan.pages.put(n, refs.build(runs));
        }
        return plan;
    }

    /**
     * This plan's image as it will be once materialized into {@code baseDir}: what {@link #ofBase} would read
     * back from there, computed without reading it (the compactor prepares it before taking the store lock).
     */
    ImagePlan relocatedTo(Path baseDir) throws IOException {
        ImagePlan plan = new ImagePlan();
        for (String n : files.keySet()) {
            plan.files.put(n, List.of(new Segment(baseDir.resolve(n), 0, sizes.get(n), 0)));
            plan.sizes.put(n, sizes.get(n));
        }
        for (var e : pagemaps.entrySet()) {
            Path data = baseDir.resolve(e.getValue().pagesFileName());
            PageTable.Editor refs = PageTable.EMPTY.edit();
            e.getValue().forEachPresentPage((vaddr, idx) -> refs.put(vaddr, data, idx * Pagemap.PAGE_SIZE));
            plan.pagemaps.put(e.getKey(), e.getValue());
            plan.pages.put(e.getKey(), refs.build(pages.get(e.getKey()).runs()));
        }
        return plan;
    }

    /**
     * This plan (a later version of {@code snapshot}) with everything that has not changed since the snapshot
     * served from where {@code relocated} (the snapshot relocated into a new base) has it: the same plan as
     * {@link #ofBase} of that base plus a replay of the epochs logged after the snapshot, without reading them
     * again; the work is proportional to what changed since the snapshot.
     */
    ImagePlan rebase(ImagePlan snapshot, ImagePlan relocated) {
        ImagePlan next = new ImagePlan();
        next.sizes.putAll(sizes);
        next.pagemaps.putAll(pagemaps);
        for (var e : files.entrySet()) {
            boolean same = e.getValue().equals(snapshot.files.get(e.getKey()));
            next.files.put(e.getKey(), same ? relocated.files.get(e.getKey()) : e.getValue());
        }
        for (var e : pages.entrySet()) {
            PageTable snap = snapshot.pages.get(e.getKey());
            next.pages.put(e.getKey(), snap == null ? e.getValue() : e.getValue().rebase(snap, relocated.pages.get(e.getKey())));
        }
        return next;
    }

    /** Name → size of every file of the image, page data files included. */
    Map<String, Long> manifest() {
        Map<String, Long> m = new TreeMap<>(sizes);
        for (Pagemap pm : pagemaps.values()) m.put(pm.pagesFileName(), pm.presentPages() * Pagemap.PAGE_SIZE);
        return m;
    }

    long imageBytes() {
        long total = 0;
        for (long v : manifest().values()) total += v;
        return total;
    }

    /** Writes the image into {@code target} (created); with {@code durable}, fsyncs every file and the directory. */
    void materialize(Path target, boolean durable) throws IOException {
        Files.createDirectories(target);
        Map<Path, FileChannel> open = new HashMap<>();
        try {
            writeFiles(target, durable, java.util.Set.of(), open);
            ByteBuffer page = ByteBuffer.allocateDirect(Pagemap.PAGE_SIZE);
            for (var e : pagemaps.entrySet()) {
                PageTable refs = pages.get(e.getKey());
                try (FileChannel out = create(target.resolve(e.getValue().pagesFileName()))) {
                    e.getValue().forEachPresentPage((vaddr, idx) -> {
                        PageRef r = refs.get(vaddr);
                        if (r == null) throw new IOException("no data for page 0x" + Long.toHexString(vaddr) + " of " + e.getKey());
                        FileChannel in = open.computeIfAbsent(r.file(), ImagePlan::openRead);
                        page.clear();
                        while (page.hasRemaining()) {
                            if (in.read(page, r.offset() + page.position()) < 0) throw new IOException("short page in " + r.file());
                        }
                        page.flip();
                        while (page.hasRemaining()) out.write(page);
                    });
                    if (durable) out.force(true);
                }
            }
            if (durable) StoreState.fsyncDir(target);
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        } finally {
            for (FileChannel c : open.values()) c.close();
        }
    }

    /** Writes every non-page file but those in {@code skip} into {@code target}, reading through {@code open}. */
    void writeFiles(Path target, boolean durable, java.util.Set<String> skip, Map<Path, FileChannel> open) throws IOException {
        for (var e : files.entrySet()) {
            if (skip.contains(e.getKey())) continue;
            try (FileChannel out = create(target.resolve(e.getKey()))) {
                for (Segment s : e.getValue()) {
                    FileChannel in = open.computeIfAbsent(s.file(), ImagePlan::openRead);
                    long done = 0;
                    while (done < s.length()) {
                        long n = in.transferTo(s.offset() + done, s.length() - done, out);
                        if (n <= 0) throw new IOException("stored data missing in " + s.file());
                        done += n;
                    }
                }
                if (durable) out.force(true);
            }
        }
    }

    private static FileChannel create(Path p) throws IOException {
        return FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    static FileChannel openRead(Path p) {
        try {
            return FileChannel.open(p, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
