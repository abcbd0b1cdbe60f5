package io.checkpointd.linux.freezer;

import io.checkpointd.linux.proc.ProcFs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The shared cgroup mechanics of both freezer kinds; package-private, callers see {@link Freezer}. */
abstract class CgroupFreezer implements Freezer {
    private static final Logger LOG = LoggerFactory.getLogger(CgroupFreezer.class);
    static final String PARENT = "checkpointd";
    private static final long POLL_NANOS = 1_000_000; // 1 ms: a small JVM freezes in a few ms
    private static final int RMDIR_ATTEMPTS = 100;     // x 10 ms: exiting tasks leave the cgroup lazily

    protected final int pid;
    protected final Path root;
    protected final Path dir;
    private final Path original;
    private boolean closed;

    CgroupFreezer(int pid, Path root) throws IOException {
        this.pid = pid;
        this.root = root;
        Path where = originalCgroup(pid, root);
        this.dir = directoryFor(where);
        // already in its freezer cgroup (a primary died without closing it): reuse it, go back to its parent
        this.original = dir.equals(where) ? where.getParent() : where;
        Files.createDirectories(dir);
        try {
            writeValue(dir.resolve("cgroup.procs"), Integer.toString(pid));
            afterMove();
        } catch (IOException e) {
            removeQuietly();
            throw new IOException("cannot move pid " + pid + " into " + dir + ": " + e.getMessage(), e);
        }
        LOG.debug("pid {} moved from {} into {}", pid, original, dir);
    }

    /** The freezer cgroup of a process now in cgroup directory {@code current}. */
    protected Path directoryFor(Path current) {
        return root.resolve(PARENT).resolve(Integer.toString(pid));
    }

    /** Line of {@code /proc/PID/cgroup} for this hierarchy, as a path under {@code root}. */
    protected abstract String cgroupLine(List<String> lines);

    /** Hook after the process was moved in (v1 checks every thread). */
    protected void afterMove() throws IOException {
    }

    protected abstract void writeFreeze(boolean frozen) throws IOException;

    @Override
    public int pid() {
        return pid;
    }

    @Override
    public Path cgroup() {
        return dir;
    }

    @Override
    public void freeze(Duration timeout) throws IOException {
        writeFreeze(true);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!isFrozen()) {
            if (System.nanoTime() - deadline > 0) {
                String why = describe();
                writeFreeze(false);
                throw new IOException("pid " + pid + " not frozen within " + timeout.toMillis() + " ms (" + why + "); thawed again");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(POLL_NANOS);
        }
    }

    /** Current freezer state text, for messages. */
    protected abstract String describe() throws IOException;

    @Override
    public void thaw() throws IOException {
        writeFreeze(false);
    }

    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        IOException failure = null;
        try {
            thaw();
        } catch (IOException e) {
            failure = e;
        }
        // Move whatever is still inside back where the process came from; ESRCH means it exited meanwhile.
        Path back = Files.isDirectory(original) ? original : root;
        for (String p : readLines(dir.resolve("cgroup.procs"))) {
            try {
                writeValue(back.resolve("cgroup.procs"), p);
            } catch (IOException e) {
                if (ProcFs.exists(Integer.parseInt(p))) failure = e;
            }
        }
        try {
            rmdir(dir);
        } catch (IOException e) {
            if (failure == null) failure = e; else failure.addSuppressed(e);
        }
        // The shared parent checkpointd/ stays: removing it would race with another freezer's mkdir of its child.
        if (failure != null) throw failure;
    }

    private void removeQuietly() {
        try {
            rmdir(dir);
        } catch (IOException e) {
            LOG.warn("could not remove {}: {}", dir, e.getMessage());
        }
    }

    private static void rmdir(Path d) throws IOException {
        for (int i = 0; ; i++) {
            try {
                Files.deleteIfExists(d);
                return;
            } catch (IOException e) {
                if (i >= RMDIR_ATTEMPTS) throw new IOException("rmdir " + d + ": " + e.getMessage(), e);
                java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
            }
        }
    }

    private Path originalCgroup(int pid, Path root) throws IOException {
        String rel = cgroupLine(Files.readAllLines(ProcFs.dir(pid).resolve("cgroup")));
        rel = rel.startsWith("/") ? rel.substring(1) : rel;
        return rel.isEmpty() ? root : root.resolve(rel);
    }

    /** One value per write(2): cgroup files take one pid per write. */
    static void writeValue(Path file, String value) throws IOException {
        Files.write(file, value.getBytes(StandardCharsets.US_ASCII), StandardOpenOption.WRITE);
    }

    static List<String> readLines(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        try {
            for (String l : Files.readAllLines(file)) if (!l.isBlank()) out.add(l.trim());
        } catch (NoSuchFileException e) {
            // cgroup already gone
        }
        return out;
    }

    /** cgroup v1: {@code freezer.state} is {@code THAWED}, {@code FREEZING} or {@code FROZEN}. */
    static final class V1 extends CgroupFreezer {
        V1(int pid) throws IOException {
            super(pid, FreezerKind.v1Root().orElseThrow(() -> new IOException("cgroup v1 freezer not mounted")));
        }

        @Override
        public FreezerKind kind() {
            return FreezerKind.V1;
        }

        @Override
        protected String cgroupLine(List<String> lines) {
            for (String l : lines) {
                String[] f = l.split(":", 3);
                if (f.length == 3 && List.of(f[1].split(",")).contains("freezer")) return f[2];
            }
            return "/";
        }

        /** cgroup.procs moves the whole thread group; check each thread landed and move stragglers via tasks. */
        @Override
        protected void afterMove() throws IOException {
            Set<String> inside = new HashSet<>(readLines(dir.resolve("tasks")));
            for (int tid : ProcFs.threads(pid)) {
                if (inside.contains(Integer.toString(tid))) continue;
                try {
                    writeValue(dir.resolve("tasks"), Integer.toString(tid));
                } catch (IOException e) {
                    // a thread that ended since the listing (ESRCH): nothing to move; a service starting and ending
                    // threads all the time has some
                    if (Files.exists(ProcFs.dir(pid).resolve("task").resolve(Integer.toString(tid)))) throw e;
                }
            }
        }

        @Override
        protected void writeFreeze(boolean frozen) throws IOException {
            writeValue(dir.resolve("freezer.state"), frozen ? "FROZEN" : "THAWED");
        }

        @Override
        public boolean isFrozen() throws IOException {
            return describe().equals("FROZEN");
        }

        @Override
        protected String describe() throws IOException {
            return Files.readString(dir.resolve("freezer.state")).trim();
        }
    }

    /**
     * cgroup v2: write {@code cgroup.freeze}, completion shows as {@code frozen 1} in {@code cgroup.events}. The
     * freezer cgroup is a leaf {@code checkpointd-freeze-<pid>} <em>inside</em> the process's own cgroup, so the
     * process stays in its systemd unit (whose stop still kills it, whose limits and accounting still apply). The
     * process's cgroup holds processes, so it has no controllers in {@code cgroup.subtree_control} and a child
     * without controllers may take it; the leaf inherits the unit's limits.
     */
    static final class V2 extends CgroupFreezer {
        static final String LEAF_PREFIX = "checkpointd-freeze-";

        V2(int pid) throws IOException {
            super(pid, FreezerKind.v2Root().orElseThrow(() -> new IOException("cgroup2 not mounted")));
        }

        @Override
        protected Path directoryFor(Path current) {
            String leaf = LEAF_PREFIX + pid;
            return current.getFileName() != null && current.getFileName().toString().equals(leaf) ? current : current.resolve(leaf);
        }

        /** A leaf reused from a primary that died frozen is thawed at once. */
        @Override
        protected void afterMove() throws IOException {
            writeFreeze(false);
        }

        @Override
        public FreezerKind kind() {
            return FreezerKind.V2;
        }

        @Override
        protected String cgroupLine(List<String> lines) {
            for (String l : lines) if (l.startsWith("0::")) return l.substring(3);
            return "/";
        }

        @Override
        protected void writeFreeze(boolean frozen) throws IOException {
            writeValue(dir.resolve("cgroup.freeze"), frozen ? "1" : "0");
        }

        @Override
        public boolean isFrozen() throws IOException {
            return readLines(dir.resolve("cgroup.events")).contains("frozen 1");
        }

        @Override
        protected String describe() throws IOException {
            return String.join(", ", readLines(dir.resolve("cgroup.events")));
        }
    }
}
