package io.checkpointd.linux.cgroup;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a restored service is put before it runs, so that it outlives the backup daemon that restored it: stopping
 * the backup's unit (or killing its cgroup) must not take the service down. With systemd as init, a transient
 * scope of its own ({@link ScopePlacement}); without it, a cgroup v2 directory of its own ({@link Cgroup2Placement}).
 */
public interface Placement {
    /**
     * Moves the process tree rooted at {@code pid} (restored, not yet resumed) there.
     *
     * @return where it went, for the log
     */
    String place(int pid) throws IOException;

    /**
     * Where a process that serves this one goes (the re-protecting primary of a restored service), named
     * {@code name}: with systemd a scope of its own bound to this one ({@code BindsTo=}/{@code After=}: stopping
     * the service's scope stops it, as {@code checkpointd-protect@} follows its service), else a cgroup v2 directory
     * beside this one. Either way out of the restorer's cgroup, and not in the service's (its memory, CPU and
     * freezing stay the service's own).
     */
    Placement companion(String name);

    /**
     * The placement for a restored service named {@code name} (a unit or directory name: letters, digits, '-', '_',
     * '.'): a systemd scope when systemd is init here, else a cgroup v2 directory under {@code parent} (or, when null,
     * under {@link Cgroup2Placement#DEFAULT_PARENT} of the cgroup2 mount), else empty (no cgroup v2 hierarchy is
     * mounted: the service stays in the restorer's cgroups).
     */
    static Optional<Placement> forRestoredService(String name, Path parent) throws IOException {
        checkedName(name);
        if (ScopePlacement.systemdIsInit()) return Optional.of(new ScopePlacement(name, null));
        if (parent != null) return Optional.of(new Cgroup2Placement(parent.resolve(name)));
        Optional<Path> mount = Cgroup2Placement.mountPoint();
        if (mount.isEmpty()) return Optional.empty();
        return Optional.of(new Cgroup2Placement(mount.get().resolve(Cgroup2Placement.DEFAULT_PARENT).resolve(name)));
    }

    /** {@code name} if it is a usable unit or directory name. */
    static String checkedName(String name) {
        if (!name.matches("[A-Za-z0-9_.-]+")) throw new IllegalArgumentException("bad cgroup/unit name: " + name);
        return name;
    }

    /** The process's cgroup v2 path ({@code 0::/a/b} in {@code /proc/PID/cgroup}), or empty on a v1-only host. */
    static Optional<String> cgroup2Of(long pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/cgroup"))) {
            if (l.startsWith("0::")) return Optional.of(l.substring(3));
        }
        return Optional.empty();
    }
}
