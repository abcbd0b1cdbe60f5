package io.checkpointd.linux.freezer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Which cgroup freezer this machine offers. */
public enum FreezerKind {
    /** cgroup v1 {@code freezer} controller ({@code freezer.state}). */
    V1,
    /** cgroup v2 core freezer ({@code cgroup.freeze}, kernel 5.2+). */
    V2,
    /** Neither is mounted. */
    NONE;

    /** v1 if a freezer hierarchy is mounted (it is the one processes are usually placed in), else v2, else none. */
    public static FreezerKind detect() {
        if (v1Root().isPresent()) return V1;
        if (v2Root().isPresent()) return V2;
        return NONE;
    }

    /** Mount point of the v1 freezer hierarchy, from {@code /proc/self/mounts}. */
    static Optional<Path> v1Root() {
        return mount("cgroup", "freezer");
    }

    /** Mount point of the cgroup2 hierarchy (also in hybrid setups, e.g. {@code /sys/fs/cgroup/unified}). */
    static Optional<Path> v2Root() {
        return mount("cgroup2", null);
    }

    private static Optional<Path> mount(String fsType, String option) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mounts"))) {
                String[] f = line.split(" ");
                if (f.length < 4 || !f[2].equals(fsType)) continue;
                if (option != null && !java.util.Arrays.asList(f[3].split(",")).contains(option)) continue;
                return Optional.of(Path.of(f[1].replace("\\040", " ")));
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }
}
