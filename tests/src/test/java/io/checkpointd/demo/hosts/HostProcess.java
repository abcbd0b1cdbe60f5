package io.checkpointd.demo.hosts;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A process started on a {@link Host}. {@code nsenter} must fork to enter the host's pid namespace, so the
 * process we start ({@link #launcher()}) is nsenter; its only child is the program (all wrappers exec in place),
 * whose pid in our namespace is {@link #pid()} and in the host's {@link #hostPid()}. nsenter waits for it and
 * exits with its status, so {@link #waitFor} returns the program's exit code.
 */
public final class HostProcess {
    private final Host host;
    private final String name;
    private final Process launcher;
    private final int pid;
    private final int hostPid;

    HostProcess(Host host, String name, Process launcher, int pid, int hostPid) {
        this.host = host;
        this.name = name;
        this.launcher = launcher;
        this.pid = pid;
        this.hostPid = hostPid;
    }

    /** The program's pid in the test's (root) pid namespace. */
    public int pid() {
        return pid;
    }

    /** The program's pid inside its host (what it reports about itself, what {@code protect} is given). */
    public int hostPid() {
        return hostPid;
    }

    public String name() {
        return name;
    }

    public Host host() {
        return host;
    }

    /** The nsenter process that waits for the program. */
    public Process launcher() {
        return launcher;
    }

    public boolean isAlive() {
        return launcher.isAlive() && Files.exists(Path.of("/proc/" + pid));
    }

    /** SIGKILLs the program (by pid) and reaps its launcher. */
    public void kill() throws InterruptedException {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        if (!launcher.waitFor(10, TimeUnit.SECONDS)) {
            launcher.destroyForcibly();
            launcher.waitFor();
        }
    }

    /** Waits for the program to exit. @return its exit code (128+signal if it was killed), or -1 at the deadline */
    public int waitFor(Duration max) throws InterruptedException {
        if (!launcher.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) return -1;
        return launcher.exitValue();
    }

    @Override
    public String toString() {
        return name + "@" + host.name() + " (pid " + pid + ", " + hostPid + " in host)";
    }

    /** Finds the launcher's child once it runs {@code comm} (the wrappers exec in place). */
    static int awaitChild(Process launcher, String comm, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        long lp = launcher.pid();
        while (true) {
            try {
                String kids = readProc(Path.of("/proc/" + lp + "/task/" + lp + "/children")).strip();
                if (!kids.isEmpty()) {
                    if (kids.contains(" ")) throw new IOException("nsenter " + lp + " has more than one child: " + kids);
                    int child = Integer.parseInt(kids);
                    String c = readProc(Path.of("/proc/" + child + "/comm")).strip();
                    if (c.equals(comm)) return child;
                }
            } catch (java.nio.file.NoSuchFileException e) {
                // not there yet, or gone
            }
            if (!launcher.isAlive()) throw new IOException("launcher exited with status " + launcher.exitValue() + " before running " + comm);
            if (System.nanoTime() - deadline > 0) throw new IOException("no " + comm + " under nsenter " + lp + " within " + max);
            Thread.sleep(10);
        }
    }

    /** The last NSpid of {@code pid}: its pid in the innermost pid namespace. */
    static int innermostPid(int pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (l.startsWith("NSpid:")) {
                String[] f = l.substring(6).trim().split("\\s+");
                return Integer.parseInt(f[f.length - 1]);
            }
        }
        throw new IOException("no NSpid for " + pid);
    }

    /** A /proc file read to its end (Files.readString trusts the size, which /proc files do not have). */
    static String readProc(Path p) throws IOException {
        try (var in = Files.newInputStream(p)) {
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }
}
