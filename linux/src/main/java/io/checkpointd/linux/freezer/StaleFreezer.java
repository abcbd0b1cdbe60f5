package io.checkpointd.linux.freezer;

import io.checkpointd.linux.cgroup.Cgroup2;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Cleanup after a primary that died while its process was frozen: its freezer cgroup stays FROZEN, so the old
 * process can neither run nor die, and anything put into that cgroup would freeze too. The backup, taking over on
 * the same host, thaws and removes it before fencing the old process.
 */
public final class StaleFreezer {
    private StaleFreezer() {
    }

    /**
     * Thaws checkpointd's freezer cgroup of {@code pid}, if there is one, and removes it once empty.
     *
     * @return true if a stale cgroup was found
     */
    public static boolean release(int pid) throws IOException {
        boolean found = false;
        for (Path dir : dirs(pid)) {
            if (Files.exists(dir.resolve("freezer.state"))) {
                Files.writeString(dir.resolve("freezer.state"), "THAWED");
                found = true;
            } else if (Files.exists(dir.resolve("cgroup.freeze"))) {
                Files.writeString(dir.resolve("cgroup.freeze"), "0");
                found = true;
            }
        }
        return found;
    }

    /**
     * Removes the (thawed) cgroup of {@code pid}, waiting up to {@code max} for killed tasks to leave it (they do so
     * lazily as they exit); true if nothing remains.
     */
    public static boolean remove(int pid, java.time.Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        java.util.List<Path> dirs = dirs(pid);
        while (true) {
            boolean gone = true;
            for (Path dir : dirs) {
                if (!Files.isDirectory(dir)) continue;
                try {
                    Files.delete(dir); // rmdir of a cgroup: fails with EBUSY while tasks remain
                } catch (IOException e) {
                    gone = false;
                }
            }
            if (gone || System.nanoTime() - deadline > 0) return gone;
            Thread.sleep(10);
        }
    }

    /** v1: {@code checkpointd/<pid>}; v2: the leaf the process is in (inside its own cgroup), or the older layout. */
    private static java.util.List<Path> dirs(int pid) {
        java.util.List<Path> l = new java.util.ArrayList<>();
        FreezerKind.v1Root().ifPresent(r -> l.add(r.resolve(CgroupFreezer.PARENT).resolve(Integer.toString(pid))));
        FreezerKind.v2Root().ifPresent(r -> {
            String leaf = CgroupFreezer.V2.LEAF_PREFIX + pid;
            Optional<Path> in;
            try {
                in = Cgroup2.pathOf(pid).map(p -> Cgroup2.directory(r, p))
                        .filter(d -> d.getFileName() != null && d.getFileName().toString().equals(leaf));
            } catch (IOException e) {
                in = Optional.empty(); // the process is gone
            }
            if (in.isPresent()) {
                l.add(in.get());
            } else {
                // gone (killed after release) or moved out: an empty leaf is wherever its unit's cgroup is
                try (Stream<Path> s = Files.find(r, 32, (p, a) -> a.isDirectory() && p.getFileName().toString().equals(leaf))) {
                    s.forEach(l::add);
                } catch (IOException | java.io.UncheckedIOException e) {
                    // a cgroup removed while walking: the older layout below is still tried
                }
            }
            l.add(r.resolve(CgroupFreezer.PARENT).resolve(Integer.toString(pid)));
        });
        return l;
    }
}
