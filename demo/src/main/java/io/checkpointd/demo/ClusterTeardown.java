package io.checkpointd.demo;

import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** The steps of {@link Cluster#close()}: each ends one kind of process by pid, or removes files; best effort. */
final class ClusterTeardown {
    private static final Duration GONE_WITHIN = Duration.ofSeconds(10);

    private ClusterTeardown() {
    }

    /** Kills the primary the backup started to re-protect a restored service (the backup's child, not ours). */
    static void endReprotectingPrimary(Optional<Json> failover) throws InterruptedException {
        if (failover.isPresent() && failover.get().get("newPrimaryPid") instanceof Long np) {
            ProcessHandle.of(np).ifPresent(ProcessHandle::destroyForcibly);
            long deadline = System.nanoTime() + GONE_WITHIN.toNanos();
            while (ProcessHandle.of(np).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) Thread.sleep(20);
        }
    }

    /** Kills the service the backup restored; the backup (a child subreaper) reaps it: waits until the pid is free. */
    static void endRestoredService(Optional<Integer> restored) throws InterruptedException {
        if (restored.isPresent()) {
            int pid = restored.get();
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            long deadline = System.nanoTime() + GONE_WITHIN.toNanos();
            while (Files.exists(Path.of("/proc/" + pid)) && System.nanoTime() < deadline) Thread.sleep(20);
        }
    }

    /** SIGTERMs every daemon, SIGKILLs those still there after 10 s, and reaps them. */
    static void endDaemons(List<Process> daemons) {
        for (Process p : daemons) p.destroy();
        for (Process p : daemons) {
            try {
                if (!p.waitFor(GONE_WITHIN.toSeconds(), TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Kills {@code pid} if it is this cluster's service (its command line names {@code portFile}), and waits. */
    static void killIfOurs(int pid, Path portFile) {
        Path cmdline = Path.of("/proc/" + pid + "/cmdline");
        try {
            String cmd = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
            if (!cmd.contains(portFile.toString())) return;
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            long deadline = System.nanoTime() + GONE_WITHIN.toNanos();
            while (Files.exists(cmdline) && Files.readAllBytes(cmdline).length > 0 && System.nanoTime() < deadline) Thread.sleep(20);
        } catch (IOException e) {
            // gone
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Removes the primary's work dir, and the captures a re-protecting primary (started by the backup) left in the
     * default capture root for the service of {@code servicePid} (null: no service was started).
     */
    static void removeCaptures(Long servicePid, Path workDir) {
        try {
            Path shared = ImageDirs.DEFAULT_CAPTURE_ROOT;
            if (servicePid != null && Files.isDirectory(shared)) {
                try (Stream<Path> s = Files.list(shared)) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        if (p.getFileName().toString().startsWith("primary-" + servicePid + "-gen")) {
                            ImageDirs.deleteTree(p);
                        }
                    }
                }
            }
            ImageDirs.deleteTree(workDir);
        } catch (IOException e) {
            // a leftover in tmpfs is reported by nothing else: say so
            System.err.println("cluster: could not remove " + workDir + ": " + e.getMessage());
        }
    }
}
