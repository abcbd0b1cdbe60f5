package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.Pagemap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.TreeMap;

/** A synthetic CRIU image directory: one pagemap/pages pair written in CRIU's format, plus opaque files (also used by the e2e HostileInputTest). */
public final class FakeImage {
    /** vaddr → page content of present pages. */
    final TreeMap<Long, byte[]> pages = new TreeMap<>();
    final TreeMap<String, byte[]> files = new TreeMap<>();
    int pagesId = 1;

    /** The present pages: vaddr → content (live, not a copy). */
    public java.util.NavigableMap<Long, byte[]> pageMap() {
        return pages;
    }

    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (var e : files.entrySet()) Files.write(dir.resolve(e.getKey()), e.getValue());
        ByteArrayOutputStream pm = new ByteArrayOutputStream();
        ByteBuffer magic = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(Pagemap.IMG_COMMON_MAGIC).putInt(Pagemap.PAGEMAP_MAGIC);
        pm.write(magic.array());
        PagemapBytes.entry(pm, new byte[] {0x08, (byte) pagesId});
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        Long runStart = null;
        long runLen = 0, last = -1;
        for (var e : pages.entrySet()) {
            if (runStart != null && e.getKey() == last + Pagemap.PAGE_SIZE) {
                runLen++;
            } else {
                if (runStart != null) run(pm, runStart, runLen);
                runStart = e.getKey();
                runLen = 1;
            }
            last = e.getKey();
            data.write(e.getValue());
        }
        if (runStart != null) run(pm, runStart, runLen);
        Files.write(dir.resolve("pagemap-100.img"), pm.toByteArray());
        Files.write(dir.resolve("pages-" + pagesId + ".img"), data.toByteArray());
    }

    private static void run(ByteArrayOutputStream pm, long vaddr, long n) throws IOException {
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        PagemapBytes.varint(m, 1 << 3);
        PagemapBytes.varint(m, vaddr);
        PagemapBytes.varint(m, 2 << 3);
        PagemapBytes.varint(m, n);
        PagemapBytes.varint(m, 4 << 3);
        PagemapBytes.varint(m, Pagemap.PE_PRESENT);
        PagemapBytes.varint(m, 5 << 3);
        PagemapBytes.varint(m, n);
        PagemapBytes.entry(pm, m.toByteArray());
    }



    /** Mutates the image the way a running process changes between epochs. */
    public void evolve(Random rnd) {
        if (pages.isEmpty() || rnd.nextInt(4) == 0) {
            long base = 0x7f0000000000L + (long) rnd.nextInt(64) * 0x100000L;
            int n = 1 + rnd.nextInt(40);
            for (int i = 0; i < n; i++) pages.put(base + (long) i * Pagemap.PAGE_SIZE, randomPage(rnd));
        }
        Long[] keys = pages.keySet().toArray(new Long[0]);
        for (int i = 0; i < 1 + rnd.nextInt(20); i++) {
            byte[] p = pages.get(keys[rnd.nextInt(keys.length)]).clone();
            p[rnd.nextInt(p.length)] ^= (byte) (1 + rnd.nextInt(255));
            pages.put(keys[rnd.nextInt(keys.length)], p);
        }
        if (rnd.nextInt(5) == 0) {
            for (int i = 0; i < rnd.nextInt(10); i++) pages.remove(keys[rnd.nextInt(keys.length)]);
        }
        if (rnd.nextInt(3) == 0) {
            byte[] b = new byte[rnd.nextInt(3000)];
            rnd.nextBytes(b);
            files.put("core-" + (100 + rnd.nextInt(5)) + ".img", b);
        }
        if (rnd.nextInt(6) == 0 && !files.isEmpty()) files.remove(files.firstKey());
        if (rnd.nextInt(10) == 0) pagesId++;
        files.putIfAbsent("inventory.img", new byte[] {1, 2, 3});
    }

    private static byte[] randomPage(Random rnd) {
        byte[] p = new byte[Pagemap.PAGE_SIZE];
        if (rnd.nextBoolean()) rnd.nextBytes(p);
        else p[rnd.nextInt(p.length)] = 1;
        return p;
    }
}
