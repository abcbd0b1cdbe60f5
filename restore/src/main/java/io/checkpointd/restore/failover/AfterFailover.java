package io.checkpointd.restore.failover;

import io.checkpointd.linux.criu.Reaper;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** What the backup daemon keeps watching once a failover finished: the restored service and its new primary. */
public final class AfterFailover {
    private static final Logger log = LoggerFactory.getLogger(AfterFailover.class);
    /** How long a restored service may take to exit after its re-protecting primary failed. */
    private static final Duration SERVICE_EXIT_GRACE = Duration.ofSeconds(2);

    private AfterFailover() {
    }

    /**
     * If the re-protecting primary fails (other than by its service exiting or being fenced) while the restored
     * service lives on, the service must not be left with its output held forever: let it run unprotected, loudly.
     * If the service died with it (a host failure), its held output stays held: it answers epochs the spare may not
     * have, and the spare's failover, not this daemon, decides what clients see next.
     */
    public static void watchNewPrimary(Failover f, Failover.Result r) {
        Thread t = new Thread(() -> {
            try {
                int code = r.newPrimary().waitFor();
                if (code == 0 || code == 3) {
                    log.info("the re-protecting primary (pid {}) ended with exit code {}", r.newPrimary().pid(), code);
                } else if (awaitGone(r.restoredPid(), SERVICE_EXIT_GRACE)) {
                    log.error("the re-protecting primary (pid {}) failed with exit code {} and the restored service pid {} is gone "
                            + "too: generation {}'s unacknowledged output stays held (the spare takes over)", r.newPrimary().pid(), code,
                            r.restoredPid(), r.newGeneration());
                } else {
                    log.error("the re-protecting primary (pid {}) failed with exit code {}: generation {} falls back to unprotected",
                            r.newPrimary().pid(), code, r.newGeneration());
                    f.passthrough(r.newGeneration());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "new-primary-watch");
        t.setDaemon(true);
        t.start();
    }

    /** Whether {@code pid} is gone (reaped by {@link #reapLater}) within {@code max}. */
    private static boolean awaitGone(int pid, Duration max) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (!Reaper.isGone(pid)) {
            if (System.nanoTime() - deadline > 0) return false;
            Thread.sleep(10);
        }
        return true;
    }

    /** Reaps the restored service (a child of this daemon, restored by CRIU) whenever it exits. */
    public static void reapLater(int pid) {
        Thread t = new Thread(() -> {
            try {
                while (!Reaper.isGone(pid)) Reaper.reap(pid, Duration.ofSeconds(3600));
                log.info("restored service pid {} exited", pid);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "reaper-" + pid);
        t.setDaemon(true);
        t.start();
    }
}
