package io.checkpointd.primary.capture.disk;

import io.checkpointd.linux.inotify.DirWatcher;
import io.checkpointd.linux.inotify.DirtyHints;
import io.checkpointd.protocol.replication.DeltaComputer;
import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.status.Json;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The data directories of one protected process ({@code protect --data-dir}), captured with each epoch: the
 * primary's whole interface to them is {@link #precopy(boolean)} before the freeze, {@link #captureFrozen()}
 * inside the pause (next to the memory capture, so files and memory belong to the same instant) and
 * {@link #ship(DeltaComputer.Sink)} after the thaw, inside the epoch's EPOCH_BEGIN…END (so the EPOCH_END digest and
 * count cover the records).
 *
 * <p>Each directory has an inotify {@link DirWatcher}, armed at start, and a {@link DataDirTracker} holding its
 * state as of the last capture. A full epoch (the first, and after the backup lost or refused state) starts each
 * directory with a {@link EpochRecord.DirRoot} and copies it while the process still runs (progress on the
 * console); what changed during that copy reaches the watcher and is captured again while frozen, so the epoch's
 * records still end at the frozen instant. Captured records are spilled to the (tmpfs) work directory, so the
 * pause costs the reads, not the network. A capture that fails leaves its directory to be copied again in full.
 */
public final class DataDirs implements AutoCloseable {
    /** As the backup's store refuses them (it empties a data dir before materializing it): a data dir lives below these. */
    private static final List<String> SYSTEM_DIRS = List.of("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
            "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/tmp");

    private final int pid;
    private final List<Path> roots;
    private final List<DirWatcher> watchers = new ArrayList<>();
    private final DataDirTracker[] trackers;
    private final boolean[] broken;
    private final Path spill;
    private final PrintWriter console;
    private DataOutputStream out;
    private int records;
    private long bytes;
    private long precopyNanos, frozenNanos, readBefore;
    private Stats last = new Stats(0, 0, 0, 0, 0);
    private long totalBytes;

    /** What one epoch captured: records, their bytes (before LZ4), bytes of file data read, and time spent. */
    public record Stats(int records, long bytes, long bytesRead, long precopyNanos, long frozenNanos) {
    }

    /** Thrown when a capture fails: the epoch is skipped (like a failed CRIU dump) and the directory copied again. */
    public static final class CaptureException extends IOException {
        private static final long serialVersionUID = 1L;

        CaptureException(String m, Throwable cause) {
            super(m, cause);
        }
    }

    private DataDirs(int pid, List<Path> roots, Path spill, PrintWriter console) {
        this.pid = pid;
        this.roots = roots;
        this.spill = spill;
        this.console = console;
        this.trackers = new DataDirTracker[roots.size()];
        this.broken = new boolean[roots.size()];
    }

    /**
     * Checks the directories and arms their watchers.
     *
     * @param dirs     the data dirs as given (resolved to real paths here: the paths the kernel reports for the
     *                 process's open files, which CRIU reopens at restore)
     * @param workDir  where one epoch's records are spilled (tmpfs; created when needed)
     * @throws IllegalArgumentException if a directory is missing, not a directory, or nested in another
     */
    public static DataDirs watch(int pid, List<Path> dirs, Path workDir, PrintWriter console) throws IOException {
        List<Path> roots = resolve(dirs);
        DataDirs d = new DataDirs(pid, roots, workDir.resolve("data-dirs.spill"), console);
        try {
            for (Path r : roots) d.watchers.add(DirWatcher.watch(r));
        } catch (IOException | RuntimeException e) {
            d.close();
            throw e;
        }
        return d;
    }

    /** The real paths of {@code dirs}, checked: each exists, is a directory, and none is inside another. */
    public static List<Path> resolve(List<Path> dirs) {
        if (dirs.size() > EpochRecord.MAX_DATA_DIRS) throw new IllegalArgumentException("at most " + EpochRecord.MAX_DATA_DIRS + " data dirs");
        List<Path> out = new ArrayList<>();
        for (Path d : dirs) {
            Path r;
            try {
                r = d.toRealPath();
            } catch (IOException e) {
                throw new IllegalArgumentException("data dir " + d + " does not exist");
            }
            if (!Files.isDirectory(r)) throw new IllegalArgumentException("data dir " + d + " is not a directory");
            if (SYSTEM_DIRS.contains(r.toString()) || r.getParent() == null) {
                throw new IllegalArgumentException("data dir " + d + " is a system directory (the backup empties a data dir before it writes the replica there)");
            }
            for (Path o : out) {
                if (r.startsWith(o) || o.startsWith(r)) throw new IllegalArgumentException("data dirs " + o + " and " + r + " overlap");
            }
            out.add(r);
        }
        return List.copyOf(out);
    }

    public List<Path> roots() {
        return roots;
    }

    /**
     * Before the freeze of every epoch: for a {@code full} epoch (or a directory whose capture failed) forget the
     * tracked state and copy the directory while the process runs. Otherwise it only opens the epoch's spill.
     */
    public void precopy(boolean full) throws CaptureException {
        long t0 = System.nanoTime();
        closeSpill(); // an epoch that failed after its pre-copy left it open
        records = 0;
        bytes = 0;
        readBefore = bytesRead();
        try {
            Files.createDirectories(spill.getParent()); // the primary (re)creates its work dir when it starts
            out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(spill), 1 << 16));
            for (int i = 0; i < roots.size(); i++) {
                if (!full && !broken[i] && trackers[i] != null) continue;
                broken[i] = true; // until the frozen capture succeeds
                watchers.get(i).drain(); // everything from here on is in the copy or in the next drain
                trackers[i] = new DataDirTracker(roots.get(i));
                emit(new EpochRecord.DirRoot(i, roots.get(i).toString()));
                Progress p = new Progress(i);
                int dir = i;
                trackers[i].capture(DirtyHints.everything(), c -> {
                    emit(toRecord(dir, c));
                    p.update();
                });
                p.done();
            }
        } catch (IOException | UncheckedIOException e) {
            closeSpill();
            throw new CaptureException("copying data dirs failed: " + message(e), e);
        }
        precopyNanos = System.nanoTime() - t0;
    }

    /** Inside the pause: what changed since the last capture (or since the pre-copy), appended to the spill. */
    public void captureFrozen() throws CaptureException {
        long t0 = System.nanoTime();
        int i = 0;
        try {
            Set<String> mapped = sharedWritableMappings();
            for (; i < roots.size(); i++) {
                DirtyHints h = watchers.get(i).drain();
                Set<String> files = filesUnder(mapped, roots.get(i));
                if (!files.isEmpty()) {
                    // writes through a shared writable mapping raise no inotify event: look at those files every epoch
                    files.addAll(h.files());
                    h = new DirtyHints(h.all(), h.dirs(), files, h.trees());
                }
                int dir = i;
                trackers[i].capture(h, c -> emit(toRecord(dir, c)));
                broken[i] = false;
            }
            out.close();
            out = null;
        } catch (IOException | UncheckedIOException e) {
            if (i < roots.size()) broken[i] = true;
            closeSpill();
            throw new CaptureException("capturing data dir " + roots.get(Math.min(i, roots.size() - 1)) + " failed: " + message(e), e);
        }
        frozenNanos = System.nanoTime() - t0;
        last = new Stats(records, bytes, bytesRead() - readBefore, precopyNanos, frozenNanos);
        totalBytes += bytes;
    }

    /** After the thaw: sends the epoch's records to {@code sink}, in order. @return how many */
    public int ship(DeltaComputer.Sink sink) throws IOException {
        int n = 0;
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(spill), 1 << 16))) {
            while (true) {
                int len;
                try {
                    len = in.readInt();
                } catch (EOFException e) {
                    break;
                }
                byte[] p = new byte[len];
                in.readFully(p);
                sink.accept(EpochRecord.decode(p));
                n++;
            }
        }
        Files.deleteIfExists(spill);
        if (n != last.records()) throw new IOException("data dir spill holds " + n + " records, captured " + last.records());
        return n;
    }

    /** The last epoch's figures. */
    public Stats lastEpoch() {
        return last;
    }

    /** For the primary's status file. */
    public Json status() {
        long entries = 0;
        for (DataDirTracker t : trackers) if (t != null) entries += t.entries();
        List<Object> paths = new ArrayList<>();
        for (Path r : roots) paths.add(r.toString());
        return Json.object().put("paths", paths).put("entries", entries).put("lastRecords", last.records())
                .put("lastBytes", last.bytes()).put("lastBytesRead", last.bytesRead())
                .put("lastPrecopyMs", last.precopyNanos() / 1e6).put("lastFrozenMs", last.frozenNanos() / 1e6)
                .put("totalBytes", totalBytes).put("totalBytesRead", bytesRead());
    }

    private long bytesRead() {
        long n = 0;
        for (DataDirTracker t : trackers) if (t != null) n += t.bytesRead();
        return n;
    }

    private void emit(EpochRecord r) {
        byte[] p = r.encode();
        try {
            out.writeInt(p.length);
            out.write(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        records++;
        bytes += p.length;
    }

    static EpochRecord toRecord(int dir, DirChange c) {
        if (c instanceof DirChange.MakeDir d) return new EpochRecord.DirMkdir(dir, d.path(), d.mode());
        if (c instanceof DirChange.CreateFile f) return new EpochRecord.DirCreate(dir, f.path(), f.mode());
        if (c instanceof DirChange.Symlink l) return new EpochRecord.DirSymlink(dir, l.path(), l.target());
        if (c instanceof DirChange.Rename r) return new EpochRecord.DirRename(dir, r.from(), r.path());
        if (c instanceof DirChange.Delete d) return new EpochRecord.DirDelete(dir, d.path());
        if (c instanceof DirChange.Resize r) return new EpochRecord.DirResize(dir, r.path(), r.size());
        if (c instanceof DirChange.Mode m) return new EpochRecord.DirMode(dir, m.path(), m.mode());
        if (c instanceof DirChange.Owner o) return new EpochRecord.DirOwner(dir, o.path(), o.uid(), o.gid());
        if (c instanceof DirChange.Blocks b) return new EpochRecord.DirBlocks(dir, b.path(), b.offset(), b.data());
        throw new IllegalArgumentException("unknown change " + c);
    }

    /** Files the process maps shared and writable ({@code rw-s} in /proc/PID/maps). */
    private Set<String> sharedWritableMappings() {
        Set<String> out = new HashSet<>();
        try {
            for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
                String[] f = l.split("\\s+", 6);
                if (f.length == 6 && f[1].length() == 4 && f[1].charAt(1) == 'w' && f[1].charAt(3) == 's' && f[5].startsWith("/")) {
                    out.add(f[5]);
                }
            }
        } catch (IOException e) {
            // the process is gone: the epoch fails elsewhere
        }
        return out;
    }

    private static Set<String> filesUnder(Set<String> mapped, Path root) {
        Set<String> out = new HashSet<>();
        String prefix = root.toString() + "/";
        for (String m : mapped) if (m.startsWith(prefix) && !m.endsWith(" (deleted)")) out.add(m.substring(prefix.length()));
        return out;
    }

    private void closeSpill() {
        if (out == null) return;
        try {
            out.close();
        } catch (IOException e) {
            // the spill is rewritten by the next epoch
        }
        out = null;
    }

    private static String message(Throwable e) {
        Throwable c = e instanceof UncheckedIOException u ? u.getCause() : e;
        return c.getMessage() == null ? c.toString() : c.getMessage();
    }

    @Override
    public void close() {
        closeSpill();
        for (DirWatcher w : watchers) w.close();
        try {
            Files.deleteIfExists(spill);
        } catch (IOException e) {
            // the work dir goes with it
        }
    }

    /** A full copy's progress on the console, at most twice a second, and a last line. */
    private final class Progress {
        private final int dir;
        private final long t0 = System.nanoTime(), read0 = bytesRead();
        private long lastPrint = t0;

        Progress(int dir) {
            this.dir = dir;
        }

        void update() {
            long now = System.nanoTime();
            if (console == null || now - lastPrint < 500_000_000L) return;
            lastPrint = now;
            double mb = (bytesRead() - read0) / 1e6;
            console.printf("checkpointd: copying data dir %s: %.1f MB read, %d entries (%.0f MB/s)%n", roots.get(dir), mb,
                    trackers[dir].entries(), mb / Math.max(1e-3, (now - t0) / 1e9));
            console.flush();
        }

        void done() {
            if (console == null) return;
            double s = Math.max(1e-3, (System.nanoTime() - t0) / 1e9);
            double mb = (bytesRead() - read0) / 1e6;
            console.printf("checkpointd: copied data dir %s while it runs: %.1f MB, %d entries, %.2f s (%.0f MB/s); the frozen epoch adds what changed meanwhile%n",
                    roots.get(dir), mb, trackers[dir].entries(), s, mb / s);
            console.flush();
        }
    }
}
