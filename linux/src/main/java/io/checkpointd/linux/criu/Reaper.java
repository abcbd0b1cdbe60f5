package io.checkpointd.linux.criu;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;
import io.checkpointd.linux.WaitStatus;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Owning restored process trees. A tree restored by CRIU is not a {@link Process} of this JVM: after a detached
 * restore its root is re-parented to the nearest child subreaper, else to pid 1 — and a pid 1 that does not reap
 * (as in some containers/microVMs) leaves a zombie that holds the pid forever, so the same image can never be
 * restored again. The daemon therefore makes itself a child subreaper and reaps the roots it restored here.
 * Java's own process reaper only waits for pids it spawned, so it does not compete for these.
 */
public final class Reaper {
    private Reaper() {
    }

    /** {@code prctl(PR_SET_CHILD_SUBREAPER, 1)}: orphans below this JVM (e.g. detached restores) become its children. */
    public static void becomeChildSubreaper() throws SyscallException {
        Syscalls.prctl("PR_SET_CHILD_SUBREAPER", Syscalls.PR_SET_CHILD_SUBREAPER, 1);
    }

    /** Whether this JVM is a child subreaper ({@code PR_GET_CHILD_SUBREAPER}). */
    public static boolean isChildSubreaper() {
        Memory flag = new Memory(4);
        flag.setInt(0, 0);
        try {
            Syscalls.prctl("PR_GET_CHILD_SUBREAPER", Syscalls.PR_GET_CHILD_SUBREAPER, Pointer.nativeValue(flag));
        } catch (SyscallException e) {
            return false;
        }
        return flag.getInt(0) != 0;
    }

    /**
     * Waits up to {@code max} for {@code pid} to exit and reaps it if it is this JVM's child.
     *
     * @return the raw wait status if this JVM reaped it; empty if it is gone but was someone else's child, or still
     *         there at the deadline (check {@link #isGone(int)})
     */
    public static OptionalInt reap(int pid, Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            try {
                WaitStatus w = Syscalls.waitpid(pid, Syscalls.WNOHANG);
                if (w.pid() == pid) return OptionalInt.of(w.raw());
            } catch (SyscallException e) {
                if (e.errno() == Errno.ECHILD && isGone(pid)) return OptionalInt.empty();
            }
            if (System.nanoTime() - deadline > 0) return OptionalInt.empty();
            Thread.sleep(10);
        }
    }

    /** SIGKILLs {@code pid} and reaps it (see {@link #reap}); true when its pid is free afterwards. */
    public static boolean killAndReap(int pid, Duration max) throws InterruptedException {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        reap(pid, max);
        return isGone(pid);
    }

    /** True when no process or thread has id {@code id} ({@code /proc/<id>} absent; a zombie still counts). */
    public static boolean isGone(int id) {
        return !Files.exists(Path.of("/proc/" + id));
    }

    /** A short description of who holds {@code id}, e.g. {@code "123 (java, state Z, parent 1)"}, for messages. */
    public static String describe(int id) {
        Optional<String> stat;
        try {
            // not Files.readString: on JDK 17 it trusts the 0 size procfs reports and returns a truncated string
            stat = Optional.of(String.join("\n", Files.readAllLines(Path.of("/proc/" + id + "/stat"))));
        } catch (IOException e) {
            return id + " (gone)";
        }
        String s = stat.get();
        int open = s.indexOf('('), close = s.lastIndexOf(')');
        if (open < 0 || close < open) return String.valueOf(id);
        String[] rest = s.substring(close + 2).split(" ");
        String tgid = "";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + id + "/status"))) {
                if (line.startsWith("Tgid:")) {
                    String t = line.substring(5).strip();
                    if (!t.equals(String.valueOf(id))) tgid = ", thread of " + t;
                }
            }
        } catch (IOException ignored) {
            // racing with its exit: the stat line is enough
        }
        return id + " (" + s.substring(open + 1, close) + ", state " + rest[0] + ", parent " + rest[1] + tgid + ")";
    }
}
