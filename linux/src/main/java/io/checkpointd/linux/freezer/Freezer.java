package io.checkpointd.linux.freezer;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Freezes one process (all its threads, and children it forks later) through a cgroup of its own: on v1
 * {@code <freezer hierarchy>/checkpointd/<pid>}; on v2 a leaf {@code checkpointd-freeze-<pid>} inside the cgroup the
 * process was in, so it stays in its systemd unit. Frozen tasks cannot run, not even signal handlers, and unlike
 * SIGSTOP the target cannot observe it.
 *
 * <pre>
 *   forProcess(pid) --> [thawed] --freeze()--> [frozen] --thaw()--> [thawed] --close()--> gone
 * </pre>
 * {@link #close()} thaws, moves the process back to the cgroup it came from and removes the cgroup.
 */
public interface Freezer extends AutoCloseable {
    /** Creates the cgroup and moves {@code pid} into it, using the kind {@link FreezerKind#detect()} finds. */
    static Freezer forProcess(int pid) throws IOException {
        return forProcess(pid, FreezerKind.detect());
    }

    /** Same with an explicit kind (e.g. {@link FreezerKind#V2} on a hybrid machine). */
    static Freezer forProcess(int pid, FreezerKind kind) throws IOException {
        switch (kind) {
            case V1:
                return new CgroupFreezer.V1(pid);
            case V2:
                return new CgroupFreezer.V2(pid);
            default:
                throw new IOException("no cgroup freezer on this machine (neither v1 freezer nor cgroup2 mounted)");
        }
    }

    int pid();

    FreezerKind kind();

    /** The cgroup directory. */
    Path cgroup();

    /** Freezes and waits until the kernel reports the whole cgroup frozen; on timeout thaws and throws. */
    void freeze(Duration timeout) throws IOException;

    void thaw() throws IOException;

    /** Whether the kernel reports the cgroup completely frozen. */
    boolean isFrozen() throws IOException;

    /** Thaws, moves the tasks back to their original cgroup and removes this one. */
    @Override
    void close() throws IOException;
}
