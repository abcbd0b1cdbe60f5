package io.checkpointd.linux.cgroup;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A cgroup v2 directory of the restored service's own (without systemd): created, then every process of the tree
 * is written to its {@code cgroup.procs} (which moves all of a process's threads). Killing the backup daemon's
 * cgroup then leaves the service alone. On a hybrid host (v1 controllers, v2 at {@code /sys/fs/cgroup/unified})
 * this is the v2 tree only: the v1 controllers stay the restorer's.
 */
public final class Cgroup2Placement implements Placement {
    /** Below the cgroup2 mount: one directory per restored service. */
    public static final String DEFAULT_PARENT = "checkpointd.restored";

    private final Path dir;

    Cgroup2Placement(Path dir) {
        this.dir = dir;
    }

    /** Where the cgroup v2 hierarchy is mounted, from {@code /proc/self/mountinfo}. */
    public static Optional<Path> mountPoint() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            int dash = line.indexOf(" - ");
            if (dash < 0) continue;
            String[] after = line.substring(dash + 3).split(" ");
            if (after.length > 0 && after[0].equals("cgroup2")) {
                return Optional.of(Path.of(unescape(line.substring(0, dash).split(" ")[4])));
            }
        }
        return Optional.empty();
    }

    /** mountinfo escapes space, tab, newline and backslash as {@code \ooo}. */
    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    public Path directory() {
        return dir;
    }

    @Override
    public Placement companion(String name) {
        return new Cgroup2Placement(dir.resolveSibling(Placement.checkedName(name)));
    }

    @Override
    public String place(int pid) throws IOException {
        Path target = create();
        List<Integer> tree = ProcessTree.of(pid);
        for (int p : tree) Files.writeString(target.resolve("cgroup.procs"), Integer.toString(p));
        return "cgroup " + target + " (" + tree.size() + (tree.size() == 1 ? " process)" : " processes)");
    }

    /** The directory, or {@code dir-2}, {@code dir-3}… when a cgroup of that name is still there (and busy). */
    private Path create() throws IOException {
        Files.createDirectories(dir.getParent());
        for (int i = 1; i < 100; i++) {
            Path d = i == 1 ? dir : dir.resolveSibling(dir.getFileName() + "-" + i);
            try {
                Files.createDirectory(d);
                return d;
            } catch (FileAlreadyExistsException e) {
                if (Files.readString(d.resolve("cgroup.procs")).isBlank()) return d; // a left-over empty one: reuse
            }
        }
        throw new IOException("cannot create a cgroup for the restored service next to " + dir);
    }
}
