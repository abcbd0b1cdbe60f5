package io.checkpointd.linux.cgroup;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A transient systemd scope of the restored service's own (or of a process bound to it), {@code NAME.scope}: systemd's {@code StartTransientUnit}
 * with the tree's pids (what {@code systemd-run --scope} does for a command it starts; here the processes exist
 * already), called through {@code busctl}. It returns once systemd has moved them (checked in
 * {@code /proc/PID/cgroup}), so the service runs only in its scope.
 */
public final class ScopePlacement implements Placement {
    private static final long TIMEOUT_MS = 10_000;

    private final String unit;
    /** The unit this scope is bound to (stops with), or null. */
    private final String boundTo;

    ScopePlacement(String name, String boundTo) {
        this.unit = name + ".scope";
        this.boundTo = boundTo;
    }

    /** {@code sd_booted()}: systemd is init (it made {@code /run/systemd/system}). */
    public static boolean systemdIsInit() {
        return Files.isDirectory(Path.of("/run/systemd/system"));
    }

    public String unit() {
        return unit;
    }

    @Override
    public Placement companion(String name) {
        return new ScopePlacement(Placement.checkedName(name), unit);
    }

    @Override
    public String place(int pid) throws IOException {
        List<Integer> tree = ProcessTree.of(pid);
        List<String> cmd = new java.util.ArrayList<>(List.of("busctl", "call", "--quiet", "org.freedesktop.systemd1",
                "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "StartTransientUnit", "ssa(sv)a(sa(sv))",
                unit, "fail", boundTo == null ? "3" : "5", "PIDs", "au", Integer.toString(tree.size())));
        for (int p : tree) cmd.add(Integer.toString(p));
        cmd.addAll(List.of("Description", "s", boundTo == null ? "checkpointd: restored service (pid " + pid + ")"
                        : "checkpointd: pid " + pid + ", bound to " + boundTo,
                "CollectMode", "s", "inactive-or-failed"));
        if (boundTo != null) cmd.addAll(List.of("BindsTo", "as", "1", boundTo, "After", "as", "1", boundTo));
        cmd.add("0");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        try {
            if (!p.waitFor(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                p.waitFor();
                throw new IOException("busctl StartTransientUnit " + unit + " did not answer in " + TIMEOUT_MS + " ms");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.exitValue() != 0) throw new IOException("systemd refused scope " + unit + ": " + out);
            // the job that moves the pids runs after the call returns
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TIMEOUT_MS);
            while (!inScope(pid)) {
                if (System.nanoTime() > deadline) throw new IOException("pid " + pid + " is not in " + unit + " after " + TIMEOUT_MS + " ms");
                Thread.sleep(5);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while placing pid " + pid + " in " + unit);
        }
        return "systemd scope " + unit + " (" + tree.size() + (tree.size() == 1 ? " process)" : " processes)");
    }

    private boolean inScope(int pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/cgroup"))) {
            if (l.endsWith("/" + unit) && (l.startsWith("0::") || l.contains(":name=systemd:"))) return true;
        }
        return false;
    }
}
