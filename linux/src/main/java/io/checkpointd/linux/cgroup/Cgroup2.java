package io.checkpointd.linux.cgroup;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The cgroup v2 hierarchy as the freezer, the restored-service placement and the packet hold (an iptables
 * {@code -m cgroup --path} rule) need it: where it is mounted, which cgroup a process is in (as a path below the
 * mount, the form {@code /proc/PID/cgroup} and iptables use) and moving a process. Plain file I/O on cgroupfs.
 */
public final class Cgroup2 {
    private Cgroup2() {
    }

    /** Where the cgroup v2 hierarchy is mounted (also on a hybrid host, e.g. {@code /sys/fs/cgroup/unified}). */
    public static Optional<Path> mountPoint() throws IOException {
        return Cgroup2Placement.mountPoint();
    }

    /** The process's cgroup v2 path ({@code /a/b} from {@code 0::/a/b} in {@code /proc/PID/cgroup}); empty on v1 only. */
    public static Optional<String> pathOf(long pid) throws IOException {
        return Placement.cgroup2Of(pid);
    }

    /** The directory of cgroup {@code path} (as {@link #pathOf} gives it) under the mount point {@code mount}. */
    public static Path directory(Path mount, String path) {
        String rel = path.startsWith("/") ? path.substring(1) : path;
        return rel.isEmpty() ? mount : mount.resolve(rel);
    }

    /** The cgroup path of {@code dir} (a directory under {@code mount}), as {@code /proc/PID/cgroup} names it. */
    public static String pathOf(Path mount, Path dir) {
        return "/" + mount.relativize(dir);
    }

    /** Moves every thread of process {@code pid} into the cgroup {@code dir} (one write to its {@code cgroup.procs}). */
    public static void move(long pid, Path dir) throws IOException {
        Files.write(dir.resolve("cgroup.procs"), Long.toString(pid).getBytes(StandardCharsets.US_ASCII), StandardOpenOption.WRITE);
    }
}
