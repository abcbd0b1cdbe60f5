package io.checkpointd.linux.proc;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Telling one process from another across time and hosts: a pid is reused, so a process is (boot id, pid,
 * start time). Used to fence: the backup kills an old service only if all three still match.
 */
public record ProcessIdentity(String bootId, int pid, long startTicks) {
    /** The identity of a running process, or null if there is no such process. */
    public static ProcessIdentity of(int pid) {
        long t = startTicksOf(pid);
        return t < 0 ? null : new ProcessIdentity(currentBootId(), pid, t);
    }

    /**
     * True while the very same process still exists (same boot, same pid, same start time) and has not ended: a
     * process all of whose threads exited is a zombie waiting for its parent, not alive (a zombie leader whose
     * other threads still run is alive).
     */
    public boolean isAlive() {
        return bootId.equals(currentBootId()) && startTicksOf(pid) == startTicks && !hasEnded(pid);
    }

    private static boolean hasEnded(int pid) {
        try {
            String stat = String.join(" ", Files.readAllLines(Path.of("/proc/" + pid + "/stat")));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            if (state != 'Z' && state != 'X') return false;
            try (var tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
                return tasks.limit(2).count() < 2;
            }
        } catch (IOException | RuntimeException e) {
            return true; // gone meanwhile
        }
    }

    /** This host's boot id: equal boot ids mean the same running kernel, so pids are comparable. */
    public static String currentBootId() {
        try {
            List<String> l = Files.readAllLines(Path.of("/proc/sys/kernel/random/boot_id"));
            return l.isEmpty() ? "" : l.get(0).trim();
        } catch (IOException e) {
            return "";
        }
    }

    /** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or -1 if there is no such process. */
    public static long startTicksOf(int pid) {
        try {
            // not Files.readString: JDK 17 trusts procfs's zero size and may return a truncated string
            String stat = String.join(" ", Files.readAllLines(Path.of("/proc/" + pid + "/stat")));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[19]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
