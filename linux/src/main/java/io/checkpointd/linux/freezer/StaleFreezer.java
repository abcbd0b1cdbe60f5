package io.checkpointd.linux.freezer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Cleanup after a primary that died while its process was frozen: its freezer cgroup stays FROZEN, so the old
 * process can neither run nor die, and anything put into that cgroup would freeze too. The backup, taking over on
 * the same host, thaws and removes it before fencing the old process.
 */
public final class StaleFreezer {
    static final Path V1_ROOT = Path.of("/sys/fs/cgroup/freezer");
    static final Path V2_ROOT = Path.of("/sys/fs/cgroup");

    private StaleFreezer() {
    }

    /**
     * Thaws checkpointd's freezer cgroup of {@code pid}, if there is one, and removes it once empty.
     *
     * @return true if a stale cgroup was found
     */
    public static boolean release(int pid) throws IOException {
        boolean found = false;
        Path v1 = V1_ROOT.resolve(CgroupFreezer.PARENT).resolve(Integer.toString(pid));
        if (Files.isDirectory(v1)) {
            Files.writeString(v1.resolve("freezer.state"), "THAWED");
            found = true;
        }
        Path v2 = V2_ROOT.resolve(CgroupFreezer.PARENT).resolve(Integer.toString(pid));
        if (Files.exists(v2.resolve("cgroup.freeze"))) {
            Files.writeString(v2.resolve("cgroup.freeze"), "0");
            found = true;
        }
        return found;
    }

    /** Removes the (thawed) cgroup of {@code pid} if no task is left in it; true if nothing remains. */
    public static boolean removeIfEmpty(int pid) {
        boolean gone = true;
        for (Path root : new Path[] {V1_ROOT, V2_ROOT}) {
            Path dir = root.resolve(CgroupFreezer.PARENT).resolve(Integer.toString(pid));
            if (!Files.isDirectory(dir)) continue;
            try {
                Files.delete(dir); // rmdir of a cgroup: fails with EBUSY while tasks remain
            } catch (IOException e) {
                gone = false;
            }
        }
        return gone;
    }
}
