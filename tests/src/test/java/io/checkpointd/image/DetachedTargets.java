package io.checkpointd.image;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.e2e.E2eSupport;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.criu.TcpMode;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcFs;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The processes an image test dumps with CRIU. Each starts through {@code sh -c 'setsid … &'}, so it is not a
 * {@code ProcessBuilder} child of this JVM (whose process reaper could take its ptrace stops); this JVM is a child
 * subreaper, so it is its child once the shell exits, and {@link #close()} kills and reaps each by pid.
 */
final class DetachedTargets implements AutoCloseable {
    private final List<Integer> pids = new ArrayList<>();

    private DetachedTargets() {
    }

    /** Skips the test unless it runs as root with CRIU; makes this JVM a child subreaper. */
    static DetachedTargets create() throws Exception {
        E2eSupport.assumeRootAndCriu();
        Reaper.becomeChildSubreaper();
        return new DetachedTargets();
    }

    /** Starts {@code cmd} in its own session, stdio on /dev/null, as a grandchild; returns its pid. */
    int start(List<String> cmd) throws Exception {
        StringBuilder sh = new StringBuilder("setsid");
        for (String a : cmd) sh.append(" '").append(a.replace("'", "'\\''")).append('\'');
        sh.append(" </dev/null >/dev/null 2>&1 & echo $!");
        Process p = new ProcessBuilder("sh", "-c", sh.toString()).redirectInput(new File("/dev/null"))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        assertThat(p.waitFor()).isZero();
        int pid = Integer.parseInt(out);
        pids.add(pid);
        return pid;
    }

    /** Starts {@code main} of this test class path in a JVM with the demo's recommended options. */
    int startJava(Class<?> main, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava()));
        cmd.addAll(KvServerProcess.RECOMMENDED_JVM_ARGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        cmd.addAll(List.of(args));
        return start(cmd);
    }

    /** From now on {@code pid} is not this object's to kill (it was killed), and {@code restored} is. */
    void replaced(int pid, int restored) {
        pids.remove(Integer.valueOf(pid));
        pids.add(restored);
    }

    /** Waits up to a minute for {@code file}, failing at once if {@code pid} died. */
    static void awaitFile(Path file, int pid) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!Files.exists(file)) {
            assertThat(ProcFs.exists(pid)).as("target %d alive", pid).isTrue();
            assertThat(System.nanoTime() - deadline).as("waiting for " + file).isNegative();
            Thread.sleep(20);
        }
    }

    /**
     * The engine's CRIU options ({@code Dumps.dump}): leave running, {@code --tcp-established} without CRIU's
     * network lock, in the frozen cgroup.
     */
    static void engineDump(Criu criu, int pid, Path dir, Freezer freezer) throws Exception {
        criu.dump(DumpOptions.builder(pid, dir).leaveRunning(true).tcpMode(TcpMode.ESTABLISHED).networkLock(false).skipInFlight(true)
                .freezeCgroup(freezer.cgroup().toString()).fileLocks(true).logFile("dump.log").build());
    }

    @Override
    public void close() throws Exception {
        for (int pid : pids) Reaper.killAndReap(pid, Duration.ofSeconds(10));
        pids.clear();
    }
}
