package io.checkpointd.restore.failover;

import io.checkpointd.linux.cgroup.Placement;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.CriuException;
import io.checkpointd.linux.criu.LazyPagesDaemon;
import io.checkpointd.protocol.image.LazyFlags;
import io.checkpointd.protocol.image.Pagemap;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Restoring a large image lazily: CRIU's {@code --lazy-pages}, with a {@code criu lazy-pages} daemon serving the
 * process's private memory from the image through userfaultfd, so the service runs (and accepts) before every page
 * is in; the daemon copies the rest in the background and exits. CRIU leaves to the daemon only pages flagged
 * {@code PE_LAZY}: {@link #flag} sets them in the restore image where CRIU's own dump would ({@link LazyFlags}; in the
 * standby's parent too when the CRIU serves those), and a lazy restore is used when the image has at least
 * {@link #AUTO_MIN_BYTES} of them; the system property {@value #PROPERTY} ({@code auto}, {@code on}, {@code off})
 * overrides that ({@code off} leaves the image's flags as they are).
 */
final class LazyRestore {
    private static final Logger log = LoggerFactory.getLogger(LazyRestore.class);
    static final String PROPERTY = "checkpointd.restore.lazy";
    /** Below this, a plain restore takes a few hundred ms and a second daemon buys nothing. */
    static final long AUTO_MIN_BYTES = 256L << 20;
    /** How long a lazy restore may take to bring every page in before the backup stops waiting for it. */
    static final Duration ALL_PAGES_TIMEOUT = Duration.ofMinutes(10);

    private final LazyPagesDaemon daemon;
    private final CompletableFuture<Long> allPagesPresent = new CompletableFuture<>();
    private final CompletableFuture<Long> servedPages = new CompletableFuture<>();

    private LazyRestore(LazyPagesDaemon daemon) {
        this.daemon = daemon;
    }

    /**
     * Flags {@code PE_LAZY} in the restore image in {@code images} where CRIU's dump would, {@code PE_PARENT} pages
     * included if {@code criu} serves them (else those stay eager, as in CRIU's own incremental images). Nothing is
     * touched with the property {@code off}; an image whose flags cannot be set keeps its own (a warning).
     */
    static LazyFlags.Counts flag(Criu criu, Path images) {
        if ("off".equals(System.getProperty(PROPERTY, "auto"))) return new LazyFlags.Counts(0, 0);
        long t0 = System.nanoTime();
        try {
            boolean parent = criu.canServeLazyParentPages();
            LazyFlags.Counts c = LazyFlags.apply(images, parent);
            log.info("failover: {} MiB of the image may be restored lazily ({} MiB of them in the parent image{}), flagged in {} ms",
                    c.lazyPages() * Pagemap.PAGE_SIZE >> 20, c.lazyParentPages() * Pagemap.PAGE_SIZE >> 20,
                    parent ? "" : "; this CRIU serves none from a parent", (System.nanoTime() - t0) / 1_000_000);
            return c;
        } catch (IOException | RuntimeException e) {
            log.warn("failover: cannot flag the lazy pages of {} ({}): its pagemaps keep their flags", images, e.toString());
            return new LazyFlags.Counts(0, 0);
        }
    }

    /** Whether the image in {@code images} is restored lazily (not if its pagemaps cannot be read: a plain restore). */
    static boolean wanted(Path images) {
        Map<String, Long> lazyBytes = new java.util.HashMap<>();
        try (var s = java.nio.file.Files.list(images)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (!Pagemap.isPagemapName(p.getFileName().toString())) continue;
                long n = 0;
                for (Pagemap.Run r : Pagemap.parse(java.nio.file.Files.readAllBytes(p)).runs()) {
                    if ((r.flags() & Pagemap.PE_LAZY) != 0) n += r.nrPages() * Pagemap.PAGE_SIZE;
                }
                lazyBytes.put("pages-" + p.getFileName(), n);
            }
        } catch (IOException | RuntimeException e) {
            log.warn("failover: cannot count the lazy pages of {} ({}): restoring without --lazy-pages", images, e.toString());
            return false;
        }
        return wanted(lazyBytes);
    }

    /** Whether an image whose pages CRIU may leave to the daemon have these sizes (any name → bytes) is restored lazily. */
    static boolean wanted(Map<String, Long> lazyBytes) {
        String mode = System.getProperty(PROPERTY, "auto");
        switch (mode) {
            case "on": return true;
            case "off": return false;
            case "auto": break;
            default: log.warn("{}={}: neither auto, on nor off; taken as auto", PROPERTY, mode);
        }
        long pages = 0;
        for (long v : lazyBytes.values()) pages += v;
        return pages >= AUTO_MIN_BYTES;
    }

    /** Starts the daemon on {@code images} (also the restore's work dir), before CRIU restores. */
    static LazyRestore start(Criu criu, Path images) throws CriuException, InterruptedException {
        return new LazyRestore(LazyPagesDaemon.start(criu, images, images, Duration.ofSeconds(10)));
    }

    /** CRIU has restored the process and is about to resume it (its post-restore hook). */
    void beforeResume() throws InterruptedException {
        if (!Boolean.getBoolean(DAEMON_DIES_PROPERTY)) return;
        log.warn("fault point: the lazy-pages daemon (pid {}) is killed before the restored process resumes", daemon.pid());
        ProcessHandle.of(daemon.pid()).ifPresent(ProcessHandle::destroyForcibly);
        daemon.awaitExit(Duration.ofSeconds(5));
    }

    /**
     * Fault point for tests: the daemon dies once CRIU has restored the process and before it tells the daemon it is
     * done, so the lazy restore fails with the restored processes killed by CRIU, to be reaped.
     */
    static final String DAEMON_DIES_PROPERTY = "checkpointd.fault.lazyDaemonDies";

    /**
     * The restore succeeded: the daemon goes where the restored service went (so it outlives this daemon's unit,
     * as the service does), and a thread waits for it to finish.
     *
     * @param noticedNanos when the failure was noticed: {@link #allPagesPresent} counts from there
     */
    void restored(int pid, Optional<Placement> placement, long noticedNanos) {
        if (placement.isPresent()) {
            try {
                log.info("failover: lazy-pages daemon pid {} placed in {}", daemon.pid(), placement.get().place((int) daemon.pid()));
            } catch (IOException | RuntimeException e) {
                log.warn("failover: cannot move the lazy-pages daemon (pid {}) out of this daemon's cgroup: {}", daemon.pid(), e.getMessage());
            }
        }
        Thread t = new Thread(() -> watch(pid, noticedNanos), "lazy-pages-" + pid);
        t.setDaemon(true);
        t.start();
    }

    private void watch(int pid, long noticedNanos) {
        try {
            OptionalInt rc = daemon.awaitExit(ALL_PAGES_TIMEOUT);
            if (rc.isEmpty()) {
                log.error("failover: the lazy-pages daemon (pid {}) still serves pid {} after {} min", daemon.pid(), pid, ALL_PAGES_TIMEOUT.toMinutes());
                allPagesPresent.complete(-1L);
            } else if (rc.getAsInt() != 0) {
                // the restored process closed its copy of the userfaultfd: with the daemon's gone, the kernel drops the
                // registration and every page not copied in yet would read as zeros. Wrong memory must not serve.
                log.error("failover: the lazy-pages daemon serving pid {} failed (exit {}): killing pid {}, whose missing pages would read as zeros: {}",
                        pid, rc.getAsInt(), pid, daemon.logTail());
                io.checkpointd.linux.criu.Reaper.killAndReap(pid, java.time.Duration.ofSeconds(5));
                allPagesPresent.complete(-1L);
            } else {
                long ns = daemon.exitedNanos() - noticedNanos;
                log.info("failover: every page of pid {} is present, {} ms after the failure was noticed", pid, ns / 1_000_000);
                allPagesPresent.complete(ns);
            }
            servedPages.complete(daemon.transferredPages().orElse(-1));
        } catch (InterruptedException e) {
            allPagesPresent.complete(-1L);
            servedPages.complete(-1L);
        }
    }

    /** Pages the daemon copied in (from its log, once it exited); -1 if unknown. */
    CompletableFuture<Long> servedPages() {
        return servedPages;
    }

    /** Nanoseconds from the failure noticed to every page present; -1 if the daemon failed or never finished. */
    CompletableFuture<Long> allPagesPresent() {
        return allPagesPresent;
    }

    /** The restore failed: the daemon has nothing to serve. */
    void abandon() {
        try {
            // whether it had ended by itself, and how (an exit code, or 128 + a signal): the restore's log only says
            // it lost the connection
            java.util.OptionalInt exit = daemon.awaitExit(Duration.ZERO);
            log.warn("failover: abandoning the lazy-pages daemon (pid {}): {}; its log: {}", daemon.pid(),
                    exit.isPresent() ? "it had exited with " + exit.getAsInt() : "still running", daemon.log());
            daemon.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        allPagesPresent.complete(-1L);
        servedPages.complete(-1L);
    }
}
