package io.checkpointd.restore.failover;

import io.checkpointd.linux.cgroup.Placement;
import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.CriuException;
import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.linux.criu.RestoreOptions;
import io.checkpointd.linux.criu.TcpMode;
import io.checkpointd.linux.freezer.StaleFreezer;
import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.control.ProxyControlClient;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.restore.store.ImageStore;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Taking over from a failed primary, in this order:
 * <ol>
 * <li>fence: durably mark the old generation fenced, so nothing of it is committed or acked again;</li>
 * <li>tell the proxy: the new generation; it drops the old generation's unreleased output and its clients;</li>
 * <li>if the old service still runs on this very host (same boot id, same start time), kill it: it must not
 *     keep the service's port or pid, and its output can never be released anyway;</li>
 * <li>materialize the last committed epoch (its image, from the store's standby image when that is current, and its
 *     data dirs at their paths) and restore it with CRIU, lazily for a large image ({@link LazyRestore}):
 *     with an {@link AddressTakeover}, the service address moves here and TCP connections on it are restored
 *     established (CRIU's TCP repair), the peers seeing only a stall; without one, established connections come
 *     back closed and clients reconnect through the proxy;</li>
 * <li>wait until the restored service accepts connections, then let the proxy pass its output through
 *     (it runs unprotected until a new backup protects it).</li>
 * </ol>
 * The committed image is only read: a failed restore can be retried from the same epoch.
 */
public final class Failover {
    private static final Logger log = LoggerFactory.getLogger(Failover.class);

    /**
     * The outcome; {@code newPrimary} is the re-protecting {@code protect} process, or null when unprotected;
     * {@code fromStandby}: the image came from the store's standby image; {@code allPagesPresent}: nanoseconds from
     * the failure noticed to every page in (a lazy restore completes it later; -1 if its daemon failed);
     * {@code lazyPages}: pages the image left to a lazy restore; {@code servedPages}: pages the lazy-pages daemon
     * copied in (completed when it exits; 0 for a plain restore, -1 unknown).
     */
    public record Result(long newGeneration, long restoredEpoch, int restoredPid, long failoverNanos, long restoreNanos,
                         long materializeNanos, Process newPrimary, boolean fromStandby, boolean lazy,
                         java.util.concurrent.CompletableFuture<Long> allPagesPresent, io.checkpointd.protocol.image.LazyFlags.Counts lazyPages,
                         java.util.concurrent.CompletableFuture<Long> servedPages) {
    }

    /** {@code false}: restore from the whole image written from the store even when the standby image is current (benchmarks). */
    public static final String STANDBY_PROPERTY = "checkpointd.restore.standby";

    /** How long a new primary may take to fail (e.g. the spare is unreachable) before it counts as started. */
    static final Duration REPROTECT_SETTLE = Duration.ofSeconds(3);

    private final ImageStore store;
    private final Path workRoot;
    private final InetSocketAddress proxyControl;
    private final ChannelKey channelKey;
    private final Duration readyTimeout;
    private final Reprotector reprotector;
    private final ServiceOutput serviceOutput;
    /** Moves the service address here, so that TCP connections survive; null: connections come back closed. */
    private final AddressTakeover takeover;

    public Failover(ImageStore store, Path workRoot, InetSocketAddress proxyControl, ChannelKey channelKey, Duration readyTimeout,
                    Reprotector reprotector, ServiceOutput serviceOutput) {
        this(store, workRoot, proxyControl, channelKey, readyTimeout, reprotector, serviceOutput, null);
    }

    public Failover(ImageStore store, Path workRoot, InetSocketAddress proxyControl, ChannelKey channelKey, Duration readyTimeout,
                    Reprotector reprotector, ServiceOutput serviceOutput, AddressTakeover takeover) {
        this.takeover = takeover;
        this.reprotector = reprotector;
        this.serviceOutput = serviceOutput == null ? ServiceOutput.defaultFor(workRoot) : serviceOutput;
        this.store = store;
        this.workRoot = workRoot;
        this.proxyControl = proxyControl;
        this.channelKey = channelKey;
        this.readyTimeout = readyTimeout;
    }

    /**
     * @param noticedNanos  {@link System#nanoTime()} when the failure was noticed
     * @param primary       what the failed primary announced (may be null if none ever connected)
     * @param service       where the restored service will listen (null: don't wait for it)
     */
    public Result run(long noticedNanos, Hello primary, InetSocketAddress service) throws IOException, InterruptedException {
        return run(noticedNanos, primary, service, nextLocalGeneration(store, primary));
    }

    /**
     * The generation this backup would take on its own: one above anything its store or the failed primary has
     * seen. With an arbiter, it is the floor for the arbiter's counter, which may hand out a larger one.
     */
    public static long nextLocalGeneration(ImageStore store, Hello primary) {
        long oldGen = Math.max(store.committedGeneration(), primary == null ? 0 : primary.generation());
        return Math.max(oldGen, store.fencedGeneration()) + 1;
    }

    /**
     * As {@link #run(long, Hello, InetSocketAddress)}, as generation {@code newGen}, which must be above every
     * generation the store has seen: everything below it is fenced.
     */
    public Result run(long noticedNanos, Hello primary, InetSocketAddress service, long newGen) throws IOException, InterruptedException {
        if (newGen < nextLocalGeneration(store, primary)) {
            throw new IOException("generation " + newGen + " would not fence what this store has seen (needs at least "
                    + nextLocalGeneration(store, primary) + ")");
        }
        store.fence(newGen - 1);
        long epoch = store.committedEpoch();
        log.info("failover: fenced generations up to {}; restoring epoch {} as generation {}", newGen - 1, epoch, newGen);

        ProxyControlClient proxy = null;
        if (proxyControl != null) {
            try {
                proxy = ProxyControlClient.connect(proxyControl, channelKey, Duration.ofSeconds(2));
                proxy.generation(newGen, service != null ? service : proxyControl, Duration.ofSeconds(2));
            } catch (IOException e) {
                // the proxy being unreachable must not stop the restore; clients are cut off from the old
                // generation either way, because only this generation can ever release output again
                log.error("failover: could not tell the proxy about generation {}: {}", newGen, e.getMessage());
                closeQuietly(proxy);
                proxy = null;
            }
        }
        // the old service's end (thawed, killed, its memory freed: ~100 ms for 4 GiB) overlaps the image files; only
        // its data dirs and CRIU's restore (the same pids) need it gone
        java.util.concurrent.CompletableFuture<Void> staleGone = endStaleService(primary);

        Path images = workRoot.resolve("restore-gen" + newGen);
        ImageDirs.deleteTree(images);
        long r0 = System.nanoTime();
        boolean fromStandby = false;
        if (Boolean.parseBoolean(System.getProperty(STANDBY_PROPERTY, "true"))) {
            fromStandby = store.materializeForRestore(images); // from the standby: only its tail is written
        } else {
            store.materialize(images);
        }
        long materializeNanos = System.nanoTime() - r0;
        // data dirs: each at the path the process had, as of the same epoch, before CRIU reopens its files
        if (!store.dataDirs().isEmpty()) log.info("failover: materializing data dirs {}", store.dataDirs().values());
        awaitStale(staleGone);
        store.restoreDataDirs(); // refuses a data dir outside --data-root before touching any
        Criu criu = PreparedCriu.get();
        TcpMode tcp = TcpMode.CLOSE;
        if (takeover != null) {
            // connections on the service address are restored established (CRIU's TCP repair); others cannot be here
            java.util.List<Long> stray = StrayConnections.close(images, takeover.config().address());
            if (!stray.isEmpty()) log.warn("failover: {} connection(s) not on the service address come back closed: inodes {}", stray.size(), stray);
            takeover.take();
            tcp = TcpMode.ESTABLISHED;
        }
        // the restored service must outlive this daemon: never in its cgroup, so stopping the backup's unit leaves it
        Optional<Placement> placement = Placement.forRestoredService("checkpointd-restored-g" + newGen, null);
        if (placement.isEmpty()) log.warn("failover: no systemd and no cgroup v2 hierarchy: the restored service stays in this daemon's cgroups");
        // much memory CRIU may leave to a lazy-pages daemon: the service runs before all its pages are in
        long f0 = System.nanoTime();
        io.checkpointd.protocol.image.LazyFlags.Counts lazyPages = LazyRestore.flag(criu, images);
        LazyRestore lazy = LazyRestore.wanted(images) ? LazyRestore.start(criu, images) : null;
        long flagNanos = System.nanoTime() - f0;
        int pid;
        // the hsperfdata file it maps, a stream for its stdout: what the old host gave the process, this one must
        try (HostFilesSetup host = HostFilesSetup.prepare(images, serviceOutput)) {
            try {
                pid = restore(criu, host, images, tcp, lazy, placement);
            } catch (CriuException e) {
                if (lazy == null) throw e;
                // the lazy-pages daemon is one more process, with limits of its own (see LazyFlags), that can fail
                // the restore: CRIU killed what it had restored, so the image is restored again, whole
                lazy.abandon();
                lazy = null;
                log.error("failover: the lazy restore failed ({}); restoring every page before the service runs", e.getMessage());
                reapFailedRestore(images);
                pid = restore(criu, host, images, tcp, null, placement);
            }
        } catch (IOException | RuntimeException e) {
            if (lazy != null) lazy.abandon();
            throw e;
        } finally {
            if (takeover != null) takeover.release(); // restored (or failed): the peers' retransmissions may come in
        }
        long restoreNanos = System.nanoTime() - r0;
        if (lazy != null) lazy.restored(pid, placement, noticedNanos);
        log.info("failover: CRIU restored pid {} from epoch {} in {} ms ({} ms of it writing the image files{}, {} ms flagging lazy pages and starting "
                + "the daemon{}; {} ms since the failure was noticed)", pid, epoch, restoreNanos / 1_000_000, materializeNanos / 1_000_000,
                fromStandby ? " from the standby image" : "", flagNanos / 1_000_000, lazy != null ? "; pages lazily" : "",
                (System.nanoTime() - noticedNanos) / 1_000_000);
        if (service != null) awaitAccepting(service);
        long total = System.nanoTime() - noticedNanos;
        java.util.concurrent.CompletableFuture<Long> allPages = lazy != null ? lazy.allPagesPresent()
                : java.util.concurrent.CompletableFuture.completedFuture(r0 + restoreNanos - noticedNanos);
        // the new primary's first dump and its tracker need the memory whole, with no userfaultfd of CRIU's on it
        if (lazy != null && reprotector != null) allPages.join(); // completed by the daemon's watcher, bounded
        // the new primary too: stopping this daemon's unit must not end the restored service's protection
        Process newPrimary = reprotector == null ? null
                : reprotect(pid, newGen, service, placement.map(p -> p.companion("checkpointd-reprotect-g" + newGen)),
                        Reprotector.carried(primary == null ? "" : primary.protectOptions()));
        if (newPrimary == null && proxy != null) passthrough(proxy, newGen);
        closeQuietly(proxy);
        return new Result(newGen, epoch, pid, total, restoreNanos, materializeNanos, newPrimary, fromStandby, lazy != null, allPages,
                lazyPages, lazy != null ? lazy.servedPages() : java.util.concurrent.CompletableFuture.completedFuture(0L));
    }

    /**
     * The processes a failed restore had created and CRIU killed are orphans of this daemon (a child subreaper):
     * reaped here, or their zombies would hold the pids the next restore needs.
     */
    private static void reapFailedRestore(Path images) throws InterruptedException {
        try {
            for (int id : Criu.imagePids(images)) Reaper.reap(id, Duration.ofMillis(100));
        } catch (IOException e) {
            log.warn("failover: cannot list the image's pids to reap the failed restore's: {}", e.getMessage());
        }
    }

    /** CRIU's restore of {@code images}, lazily if {@code lazy} (its daemon) is given. */
    private static int restore(Criu criu, HostFilesSetup host, Path images, TcpMode tcp, LazyRestore lazy, Optional<Placement> placement)
            throws CriuException {
        boolean hook = placement.isPresent() || lazy != null;
        // no CRIU network lock: the takeover's drop rule holds the peers off until the sockets exist
        return criu.restore(host.addTo(RestoreOptions.builder(images).detached(true).tcpMode(tcp).networkLock(false).fileLocks(true)
                .logFile(lazy != null ? "restore.log" : "restore-whole.log").lazyPages(lazy != null).beforeResume(!hook ? null : p -> {
                    if (placement.isPresent()) log.info("failover: restored pid {} placed in {} before it runs", p, placement.get().place(p));
                    if (lazy != null) lazy.beforeResume();
                })).build());
    }

    /** Starts the new primary toward the spare; null if it could not start (then the caller runs unprotected). */
    private Process reprotect(int pid, long generation, InetSocketAddress service, Optional<Placement> placement, java.util.List<String> carried)
            throws InterruptedException {
        try {
            // its data dirs, and how the old primary protected it (the packet hold, the backup-loss policy)
            Process p = reprotector.start(pid, generation, proxyControl, service, store.dataDirs().values(), carried);
            if (!carried.isEmpty()) log.info("failover: re-protecting with the old primary's {}", String.join(" ", carried));
            if (placement.isPresent() && !place(p, placement.get())) return null;
            if (p.waitFor(REPROTECT_SETTLE.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)) {
                log.error("failover: re-protection toward {} failed at once (exit {}); see {}", reprotector.config().spare(),
                        p.exitValue(), reprotector.config().log());
                return null;
            }
            log.info("failover: generation {} is protected again: protect pid {} ships to the spare {} (full sync first)",
                    generation, p.pid(), reprotector.config().spare());
            return p;
        } catch (IOException e) {
            log.error("failover: cannot start re-protection: {}", e.getMessage());
            return null;
        }
    }

    /**
     * Moves the new primary out of this daemon's cgroup (it is a JVM still starting: it forks CRIU only once it
     * protects). If that fails it is stopped: left here, the stop of this daemon's unit would kill it and the proxy
     * would hold the service's output with nobody to release it; unprotected (passthrough) is better.
     */
    private boolean place(Process p, Placement placement) throws InterruptedException {
        try {
            log.info("failover: re-protecting primary pid {} placed in {}", p.pid(), placement.place((int) p.pid()));
            return true;
        } catch (IOException | RuntimeException e) {
            log.error("failover: cannot move the re-protecting primary (pid {}) out of this daemon's cgroup: {}; stopping it",
                    p.pid(), e.getMessage());
            p.destroyForcibly();
            p.waitFor();
            return false;
        }
    }

    /** Lets the proxy release the generation's output at once: the service runs unprotected. */
    public void passthrough(ProxyControlClient proxy, long generation) {
        try {
            proxy.passthrough(generation, Duration.ofSeconds(2));
            log.warn("generation {} runs UNPROTECTED: no backup protects the restored service", generation);
        } catch (IOException e) {
            log.error("failover: proxy refused passthrough for generation {}: {}", generation, e.getMessage());
        }
    }

    /** Same, on a connection of its own (when a new primary died before protecting anything). */
    public void passthrough(long generation) {
        if (proxyControl == null) return;
        try (ProxyControlClient proxy = ProxyControlClient.connect(proxyControl, channelKey, Duration.ofSeconds(2))) {
            passthrough(proxy, generation);
        } catch (IOException e) {
            log.error("failover: cannot reach the proxy for passthrough of generation {}: {}", generation, e.getMessage());
        }
    }

    /** {@link #killStaleService} on a thread of its own (done at once without a primary). */
    private java.util.concurrent.CompletableFuture<Void> endStaleService(Hello primary) {
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        if (primary == null) {
            done.complete(null);
            return done;
        }
        Thread t = new Thread(() -> {
            try {
                killStaleService(primary);
                done.complete(null);
            } catch (InterruptedException | RuntimeException e) {
                done.completeExceptionally(e);
            }
        }, "failover-stale-service");
        t.setDaemon(true);
        t.start();
        return done;
    }

    /** Waits for {@code f}, rethrowing what it failed with. */
    private static void awaitStale(java.util.concurrent.CompletableFuture<Void> f) throws InterruptedException {
        try {
            f.get();
        } catch (java.util.concurrent.ExecutionException e) {
            if (e.getCause() instanceof InterruptedException ie) throw ie;
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e.getCause());
        }
    }

    private void killStaleService(Hello primary) throws InterruptedException {
        ProcessIdentity old = new ProcessIdentity(primary.bootId(), primary.servicePid(), primary.serviceStartTicks());
        if (!old.bootId().equals(ProcessIdentity.currentBootId())) return; // another host: the generation fences it
        int pid = old.pid();
        try {
            // a primary that died mid-epoch leaves its process frozen: it could neither run nor die
            if (StaleFreezer.release(pid)) log.warn("failover: thawed the dead primary's freezer cgroup of pid {}", pid);
        } catch (IOException e) {
            log.error("failover: cannot thaw the freezer cgroup of pid {}: {}", pid, e.getMessage());
        }
        killStaleTracers(pid);
        if (old.isAlive()) {
            log.warn("failover: the old service (pid {}) still runs on this host: killing it", pid);
            Reaper.killAndReap(pid, Duration.ofSeconds(5));
        }
        if (!StaleFreezer.remove(pid, Duration.ofSeconds(2))) log.warn("failover: the old freezer cgroup of pid {} is still busy; left in place", pid);
    }

    /**
     * A primary killed mid-epoch leaves its {@code criu dump} child running and ptrace-attached to the old service:
     * the service's threads then stay zombies for as long as that tracer lives, so their pids (which the restore
     * needs) are never freed. End every CRIU still tracing a thread of the old service.
     */
    private static void killStaleTracers(int pid) throws InterruptedException {
        java.util.Set<Long> tracers = new java.util.TreeSet<>();
        try (var tasks = java.nio.file.Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                for (String l : java.nio.file.Files.readAllLines(t.resolve("status"))) {
                    if (l.startsWith("TracerPid:")) {
                        long tracer = Long.parseLong(l.substring(10).trim());
                        if (tracer > 0) tracers.add(tracer);
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return; // gone meanwhile: nothing traces it
        }
        for (long tracer : tracers) {
            String comm;
            try {
                comm = java.nio.file.Files.readAllLines(Path.of("/proc/" + tracer + "/comm")).get(0).trim();
            } catch (IOException | IndexOutOfBoundsException e) {
                continue;
            }
            if (!comm.startsWith("criu")) continue; // only a dead primary's CRIU, never a debugger
            log.warn("failover: a dead primary's CRIU (pid {}) still traces the old service (pid {}): killing it", tracer, pid);
            ProcessHandle.of(tracer).ifPresent(ProcessHandle::destroyForcibly);
        }
        if (!tracers.isEmpty()) Thread.sleep(50); // detaching happens as the tracer dies
    }

    private void awaitAccepting(InetSocketAddress service) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + readyTimeout.toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(service, 200);
                return;
            } catch (IOException e) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IOException("restored service does not accept connections on " + service + " after " + readyTimeout.toSeconds() + " s");
                }
                Thread.sleep(5);
            }
        }
    }

    private static void closeQuietly(ProxyControlClient c) {
        if (c == null) return;
        try {
            c.close();
        } catch (Exception e) {
            // closing a control connection cannot fail in a way that matters here
        }
    }
}
