package io.checkpointd.primary.engine;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import io.checkpointd.linux.proc.Vma;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The process as it is at an epoch's capture, written out by means independent of the engine's (the classic
 * {@code /proc/PID/pagemap} rather than PAGEMAP_SCAN and the tracker, every present page read whole through
 * {@code /proc/PID/mem}), for the memory oracle test: the backup's committed image of that epoch must match it.
 * Taken only when a test asks for it (the named fault point {@code checkpointd.fault.oracleDir}), with every thread
 * still stopped, so it costs the pause of that one epoch only.
 *
 * <p>Files: {@code maps} (verbatim), {@code memory} (for each present page of a private VMA except the kernel's
 * special ones, [vdso] included: the address as 8 bytes big-endian, then the page), and {@code criu/}: CRIU's own
 * dump of the same instant, whose core images hold the threads' registers as an implementation other than the
 * engine's reads them.
 */
final class OracleSnapshot {
    private static final int PAGE = 4096;

    private OracleSnapshot() {
    }

    static void write(int pid, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path proc = ProcFs.dir(pid);
        Files.write(dir.resolve("maps.tmp"), Files.readAllBytes(proc.resolve("maps")));
        List<Vma> maps = ProcFs.maps(pid);
        try (FileChannel pagemap = FileChannel.open(proc.resolve("pagemap"), StandardOpenOption.READ);
             FileChannel mem = FileChannel.open(proc.resolve("mem"), StandardOpenOption.READ);
             OutputStream os = Files.newOutputStream(dir.resolve("memory"));
             DataOutputStream out = new DataOutputStream(new java.io.BufferedOutputStream(os, 1 << 20))) {
            ByteBuffer entries = ByteBuffer.allocate(8 * 512).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer page = ByteBuffer.allocate(PAGE);
            for (Vma v : maps) {
                if (!v.isPrivate() || (v.isSpecial() && !v.path().equals("[vdso]"))) continue;
                for (long a = v.start(); a < v.end(); a += 512L * PAGE) {
                    int n = (int) Math.min(512, (v.end() - a) / PAGE);
                    entries.clear().limit(n * 8);
                    long off = (a / PAGE) * 8;
                    while (entries.hasRemaining()) {
                        if (pagemap.read(entries, off + entries.position()) <= 0) throw new IOException("short pagemap read");
                    }
                    for (int i = 0; i < n; i++) {
                        long e = entries.getLong(i * 8);
                        boolean presentOrSwapped = (e & (3L << 62)) != 0;
                        if (!presentOrSwapped) continue;
                        long va = a + (long) i * PAGE;
                        page.clear();
                        while (page.hasRemaining()) {
                            if (mem.read(page, va + page.position()) <= 0) throw new IOException("cannot read 0x" + Long.toHexString(va));
                        }
                        out.writeLong(va);
                        out.write(page.array());
                    }
                }
            }
        }
        Files.move(dir.resolve("maps.tmp"), dir.resolve("maps"));
    }

    /** CRIU's dump of the process, frozen in {@code freezer} and untraced, into {@code dir/criu}; it stays frozen. */
    static void dumpWithCriu(Criu criu, int pid, Path dir, Freezer freezer) throws IOException {
        Dumps.dump(criu, pid, Files.createDirectories(dir.resolve("criu")), freezer);
    }
}
