package io.checkpointd.restore;

import io.checkpointd.linux.criu.Reaper;
import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.Link;
import io.checkpointd.protocol.auth.PreAuthGate;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.StatusFile;
import io.checkpointd.protocol.status.Window;
import io.checkpointd.restore.arbiter.ArbiterException;
import io.checkpointd.restore.arbiter.Holders;
import io.checkpointd.restore.arbiter.Lease;
import io.checkpointd.restore.arbiter.LeaseHeldException;
import io.checkpointd.restore.failover.AfterFailover;
import io.checkpointd.restore.failover.Failover;
import io.checkpointd.restore.failover.Reprotector;
import io.checkpointd.restore.receive.ReplicationSession;
import io.checkpointd.restore.store.GroupCommit;
import io.checkpointd.restore.store.ImageStore;
import io.checkpointd.restore.store.StandbyImage;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.checkpointd.linux.ReplyPathPriority;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup: receives epochs from the primary into its {@link ImageStore}, acknowledges each once it is applied (--ack memory) or durable,
 * watches the primary's heartbeats, and fails over when they stop or the primary reports its process gone.
 *
 * <pre>
 *   WAITING ──HELLO──▶ REPLICATING ──timeout / exit notice──▶ FAILING_OVER ──▶ RESTORED
 *      ▲                   │ connection lost (wait for timeout)               └──▶ FAILED
 *      └───────────────────┘
 * </pre>
 *
 * With an arbiter ({@link BackupConfig#arbiter()}), a failure noticed from heartbeats only starts an attempt to
 * take the service's lease (bounded by {@link BackupConfig#arbiterWait()}); the backup fails over only once it
 * holds it, as the generation the arbiter's counter hands out. While the primary still holds the lease it is
 * alive and reaches the arbiter, so the silence is a partition between the two of us: the backup stays in
 * REPLICATING, says so, and tries again while the silence lasts.
 */
public final class BackupDaemon implements AutoCloseable {
    /** How long a restored service that dies with its re-protecting primary may take to be seen gone. */

    private static final Logger log = LoggerFactory.getLogger(BackupDaemon.class);

    /** Lifecycle of the backup. */
    public enum State { WAITING, REPLICATING, FAILING_OVER, RESTORED, FAILED }

    private final BackupConfig cfg;
    private final ImageStore store;
    /** Makes applied epochs durable in groups, off the store thread. */
    private final GroupCommit groupCommit;
    private final FileChannel lockChannel;
    private final FileLock lock;
    /** Real-time on the reply path ({@link ReplyPathPriority}); a large epoch's records lower it (ReplicationSession). */
    private final ExecutorService storeThread = Executors.newSingleThreadExecutor(r -> daemonThread(() -> {
        ReplyPathPriority.raise();
        r.run();
    }, "backup-store"));
    /** The timer ticks every 20 ms (heartbeats, acks); the status is published every 10th tick, 5 times a second. */
    private static final int TICKS_PER_STATUS = 10;
    private long ticks;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> daemonThread(r, "backup-timer"));
    private final EventLoopGroup group;
    private final Channel server;
    private final StatusFile status;
    private final Window commitMs = new Window(1024);
    /** Of an epoch's commitMs, the store thread's time appending its records, and the commit call itself. */
    private final Window recordMs = new Window(1024), applyMs = new Window(1024);
    private final Window epochBytes = new Window(1024);
    private final CountDownLatch finished = new CountDownLatch(1);

    private volatile State state = State.WAITING;
    private volatile ReplicationSession session;
    private volatile Hello primary;
    private volatile long lastSeen = System.nanoTime();
    private volatile Failover.Result failover;
    private volatile String failure = "";
    /** An attempt to take the arbiter's lease is under way (at most one at a time). */
    private volatile boolean arbitrating;
    /** The lease, once this backup holds it (it keeps it while the restored service runs). */
    private volatile Lease lease;
    /** The last thing arbitration decided, for the status file. */
    private volatile String arbiterNote = "";
    private volatile long epochsCommitted;
    /** Bounds the replication port's connections that have not authenticated yet. */
    private final PreAuthGate preAuth;

    private BackupDaemon(BackupConfig cfg) throws IOException, InterruptedException {
        this.cfg = cfg;
        this.preAuth = new PreAuthGate("the replication port", cfg.preAuth());
        this.store = ImageStore.open(cfg.dir(), cfg.dataRoots());
        this.groupCommit = new GroupCommit(store);
        if (cfg.dataRoots().isEmpty()) log.info("no --data-root: epochs naming a data dir (protect --data-dir) are refused");
        else log.info("data dirs are restored only under --data-root {}", cfg.dataRoots());
        this.lockChannel = FileChannel.open(cfg.dir().resolve("LOCK"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        this.lock = lockChannel.tryLock();
        if (lock == null) {
            lockChannel.close();
            throw new IOException("another backup is using " + cfg.dir());
        }
        try {
            // restored services are re-parented to us, so we can reap them (pid 1 may not)
            Reaper.becomeChildSubreaper();
        } catch (IOException e) {
            log.warn("cannot become a child subreaper ({}): restored services will be reaped by pid 1, if at all", e.getMessage());
        }
        this.status = new StatusFile(StatusFile.runDir(cfg.runDir()), "backup");
        io.checkpointd.restore.failover.PreparedCriu.warm(); // ready before a failover asks for it
        boolean epoll = Epoll.isAvailable();
        group = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        group.next().execute(ReplyPathPriority::raise); // its one thread reads every epoch and writes every ack
        ServerBootstrap b = new ServerBootstrap().group(group)
                .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        AuthHandshake.install(ch.pipeline(), cfg.channelKey(), Link.REPLICATION, FrameAuth.Side.SERVER);
                        preAuth.admit(ch);
                        ch.pipeline().addLast(new ReplicationSession(store, groupCommit, cfg.ackMode(), storeThread, new Sessions()));
                    }
                });
        try {
            server = b.bind(cfg.listen()).sync().channel();
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            lock.release();
            lockChannel.close();
            throw new IOException("cannot listen on " + cfg.listen() + ": " + e.getMessage(), e);
        }
        timer.scheduleAtFixedRate(this::tick, 20, 20, TimeUnit.MILLISECONDS);
        log.info("backup listening on {} ({}), store {} (committed generation {}, epoch {}), {}", boundAddress(),
                cfg.channelKey(), cfg.dir(), store.committedGeneration(), store.committedEpoch(),
                cfg.arbiter() == null ? "failover decided by heartbeats alone" : "failover only with the lease of " + cfg.arbiter().describe());
        publish();
    }

    public static BackupDaemon start(BackupConfig cfg) throws IOException, InterruptedException {
        return new BackupDaemon(cfg);
    }

    public InetSocketAddress boundAddress() {
        return (InetSocketAddress) server.localAddress();
    }

    public State state() {
        return state;
    }

    public ImageStore store() {
        return store;
    }

    /** Serves this backup's figures as Prometheus metrics in {@code r} (see {@link BackupMetrics}). */
    public void exposeMetrics(io.prometheus.metrics.model.registry.PrometheusRegistry r) {
        BackupMetrics.register(r, this);
    }

    Window commitMs() {
        return commitMs;
    }

    long epochsCommitted() {
        return epochsCommitted;
    }

    long primarySilentNanos() {
        return System.nanoTime() - lastSeen;
    }

    /** The failover's outcome once {@link State#RESTORED}, else null. */
    public Failover.Result failoverResult() {
        return failover;
    }

    /** Waits until failover finished (restored or failed). */
    public boolean awaitFailover(Duration max) throws InterruptedException {
        return finished.await(max.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void tick() {
        try {
            ReplicationSession s = session;
            if (s != null) s.flushAcksLater();
            if (state == State.REPLICATING && store.committedEpoch() >= 0
                    && System.nanoTime() - lastSeen > cfg.heartbeatTimeout().toNanos()) {
                startFailover("no heartbeat from the primary for " + cfg.heartbeatTimeout().toMillis() + " ms");
            }
            if (++ticks % TICKS_PER_STATUS == 0) publish();
        } catch (RuntimeException e) {
            log.error("backup timer: {}", e.toString());
        }
    }

    private synchronized void startFailover(String why) {
        if (state != State.REPLICATING && state != State.WAITING) return;
        long noticed = System.nanoTime();
        if (store.committedEpoch() < 0) {
            log.error("primary failed ({}) before any epoch was committed: nothing to restore; waiting for a primary", why);
            state = State.WAITING;
            return;
        }
        if (cfg.arbiter() != null && lease == null) {
            arbitrate(why, noticed);
            return;
        }
        beginFailover(why, noticed);
    }

    /**
     * Tries, on its own thread, to take the lease; fails over only if it gets it. A primary that still holds it is
     * alive and reaches the arbiter: failing over now would make two copies of the service, so we wait.
     */
    private void arbitrate(String why, long noticed) {
        if (arbitrating) return;
        arbitrating = true;
        Thread t = new Thread(() -> {
            try {
                Lease l = cfg.arbiter().acquire(Holders.describe("backup", cfg.listen().toString()), cfg.arbiterWait());
                l.onLost(w -> log.error("lost the lease of {}: {}", cfg.arbiter().describe(), w));
                synchronized (this) {
                    lease = l;
                    arbiterNote = "lease held";
                    if (state == State.REPLICATING || state == State.WAITING) {
                        beginFailover(why + "; the lease of " + cfg.arbiter().describe() + " is ours", noticed);
                    }
                }
            } catch (LeaseHeldException e) {
                arbiterNote = "not failing over: the lease is held by " + e.holder();
                log.warn("primary silent ({}) but NOT failing over: the lease of {} is still held by {}: the primary is alive "
                        + "and reaches the arbiter, only this backup cannot hear it (a partition?); waiting", why, cfg.arbiter().describe(), e.holder());
            } catch (ArbiterException e) {
                arbiterNote = "not failing over: arbiter unreachable";
                log.error("primary silent ({}) but NOT failing over: {}; this backup cannot be promoted until the arbiter answers "
                        + "(no split brain at the price of availability)", why, e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                log.error("arbitration failed: {}", e.toString());
            } finally {
                arbitrating = false;
                publish();
            }
        }, "arbitrate");
        t.setDaemon(true);
        t.start();
    }

    private synchronized void beginFailover(String why, long noticed) {
        state = State.FAILING_OVER;
        log.warn("primary failed: {}; failing over", why);
        Hello h = primary;
        ReplicationSession s = session;
        if (s != null && s.channel() != null) {
            // abortive (RST): an ack still queued for a primary cut off by a partition is discarded, never delivered
            // after the failover (a primary holding its own packets would release them on it)
            try {
                s.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException e) {
                // already closed (the primary's host died): nothing of it is queued any more
            }
            s.channel().close();
        }
        Thread t = new Thread(() -> {
            try {
                InetSocketAddress service = cfg.serviceAddress() != null ? cfg.serviceAddress() : parse(h == null ? "" : h.serviceAddress());
                long newGen = Failover.nextLocalGeneration(store, h);
                Lease l = lease;
                if (l != null) {
                    try {
                        newGen = l.nextGeneration(newGen);
                    } catch (ArbiterException e) {
                        // nothing was fenced or restored yet: back to watching, and the next attempt starts over
                        log.error("not failing over: could not take a generation from {}: {}", cfg.arbiter().describe(), e.getMessage());
                        synchronized (BackupDaemon.this) {
                            lease = null;
                            l.release();
                            arbiterNote = "generation not taken: " + e.getMessage();
                            state = State.REPLICATING;
                        }
                        return;
                    }
                    log.info("failover: generation {} from {}", newGen, cfg.arbiter().describe());
                }
                Failover f = new Failover(store, cfg.dir(), cfg.proxyControl(), cfg.channelKey(), cfg.readyTimeout(),
                        cfg.reprotect() == null ? null : new Reprotector(cfg.reprotect()), cfg.serviceOutput(),
                        cfg.takeover() == null ? null : new io.checkpointd.restore.failover.AddressTakeover(cfg.takeover()));
                failover = f.run(noticed, h, service, newGen);
                if (failover.newPrimary() != null) AfterFailover.watchNewPrimary(f, failover);
                state = State.RESTORED;
                log.info("failover complete: generation {}, epoch {}, pid {}, {} ms (restore {} ms)",
                        failover.newGeneration(), failover.restoredEpoch(), failover.restoredPid(),
                        failover.failoverNanos() / 1_000_000, failover.restoreNanos() / 1_000_000);
                AfterFailover.reapLater(failover.restoredPid());
            } catch (Exception e) {
                failure = e.getMessage();
                state = State.FAILED;
                log.error("failover failed; the committed epoch {} is intact in {}: {}", store.committedEpoch(), cfg.dir(), e.getMessage());
            } finally {
                publish();
                if (state != State.REPLICATING) finished.countDown();
            }
        }, "failover");
        t.start();
    }

    static InetSocketAddress parse(String hostPort) {
        int i = hostPort.lastIndexOf(':');
        if (i <= 0) return null;
        try {
            return new InetSocketAddress(hostPort.substring(0, i), Integer.parseInt(hostPort.substring(i + 1)));
        } catch (RuntimeException e) {
            return null;
        }
    }

    private final class Sessions implements ReplicationSession.Listener {
        @Override
        public boolean admit(ReplicationSession s, Hello hello) {
            synchronized (BackupDaemon.this) {
                if (hello.generation() <= store.fencedGeneration() || state == State.FAILING_OVER || state == State.RESTORED) return false;
                ReplicationSession old = session;
                if (old != null && old != s && old.channel() != null) old.channel().close(); // the newest connection wins
                session = s;
                primary = hello;
                lastSeen = System.nanoTime();
                state = State.REPLICATING;
                return true;
            }
        }

        @Override
        public void seen(ReplicationSession s) {
            if (s == session) lastSeen = System.nanoTime();
        }

        @Override
        public void committed(ReplicationSession s, long epoch, long commitNanos, long recordNanos, long durableNanos, long bytes) {
            commitMs.add(commitNanos / 1e6);
            recordMs.add(recordNanos / 1e6);
            applyMs.add(durableNanos / 1e6);
            epochBytes.add(bytes);
            epochsCommitted++;
        }

        @Override
        public void primaryExited(ReplicationSession s) {
            if (s == session) startFailover("the primary reports its protected process exited");
        }

        @Override
        public void closed(ReplicationSession s) {
            if (s == session) log.warn("primary connection lost; failing over in {} ms unless it returns", cfg.heartbeatTimeout().toMillis());
        }

        @Override
        public boolean holdAcks() {
            return BackupFaults.holdAcks.getAsBoolean();
        }

        @Override
        public boolean dropFrames() {
            return BackupFaults.dropPrimaryFrames.getAsBoolean();
        }

        @Override
        public boolean ackWithoutCommit() {
            return BackupFaults.ackWithoutCommit.getAsBoolean();
        }

        @Override
        public long ackUpTo() {
            return BackupFaults.ackUpTo.getAsLong();
        }
    }

    private void publish() {
        Hello h = primary;
        Failover.Result f = failover;
        Json j = Json.object().put("role", "backup").put("pid", ProcessHandle.current().pid()).put("state", state.name().toLowerCase())
                .put("listen", boundAddress().toString()).put("dir", cfg.dir().toString())
                .put("committedGeneration", store.committedGeneration()).put("committedEpoch", store.durableEpoch())
                .put("appliedEpoch", store.committedEpoch())
                .put("fencedGeneration", store.fencedGeneration()).put("epochsCommitted", epochsCommitted)
                .put("commitMs", commitMs.summary())
                .put("standbyImage", standbyFigures())
                .put("commitPhasesMs", Json.object().put("records", recordMs.summary()).put("apply", applyMs.summary()))
                .put("ack", cfg.ackMode().toString())
                .put("groupCommit", Json.object().put("syncMs", groupCommit.syncMs().summary())
                        .put("epochsPerSync", groupCommit.epochsPerSync().summary()))
                .put("epochBytes", epochBytes.summary())
                .put("primarySilentMs", h == null ? null : (System.nanoTime() - lastSeen) / 1_000_000)
                .put("primaryServicePid", h == null ? null : h.servicePid())
                .put("updatedAt", System.currentTimeMillis());
        if (f != null) {
            j.put("failover", Json.object().put("generation", f.newGeneration()).put("restoredEpoch", f.restoredEpoch())
                    .put("restoredPid", f.restoredPid())
                    .put("newPrimaryPid", f.newPrimary() == null ? null : f.newPrimary().pid())
                    .put("reprotectedTo", cfg.reprotect() == null || f.newPrimary() == null ? null : cfg.reprotect().spare().toString())
                    .put("failoverMs", Math.round(f.failoverNanos() / 1e5) / 10.0).put("restoreMs", Math.round(f.restoreNanos() / 1e5) / 10.0)
                    .put("materializeMs", Math.round(f.materializeNanos() / 1e5) / 10.0).put("fromStandby", f.fromStandby())
                    .put("lazy", f.lazy()).put("allPagesMs", allPagesMs(f))
                    .put("lazyPages", f.lazyPages().lazyPages()).put("lazyParentPages", f.lazyPages().lazyParentPages())
                    .put("servedPages", f.servedPages().getNow(null)));
        }
        if (!failure.isEmpty()) j.put("error", failure);
        if (cfg.arbiter() != null) {
            Lease l = lease;
            j.put("arbiter", Json.object().put("service", cfg.arbiter().serviceId()).put("at", cfg.arbiter().describe())
                    .put("leaseHeld", l != null && l.isHeld()).put("arbitrating", arbitrating).put("note", arbiterNote));
        }
        status.publish(j);
    }

    private Json standbyFigures() {
        Json j = Json.object();
        store.standby().figures().forEach(j::put);
        StandbyImage.RestorePhases r = store.standby().restorePhases();
        if (r != null) {
            j.put("restore", Json.object().put("batchWaitMs", r.batchWaitMs()).put("tailEpochs", r.tailEpochs()).put("tailMs", r.tailMs())
                    .put("copiedPages", r.copiedPages()).put("writeMs", r.writeMs()).put("filesMs", r.filesMs()));
        }
        return j;
    }

    /** Failure noticed to every page present, once known (a lazy restore's daemon finishes later); -1: it failed. */
    private static Double allPagesMs(Failover.Result f) {
        Long ns = f.allPagesPresent().getNow(null);
        return ns == null ? null : ns < 0 ? -1.0 : Math.round(ns / 1e5) / 10.0;
    }

    private static Thread daemonThread(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** Blocks until {@link #close()} is called from elsewhere (e.g. a shutdown hook). */
    public void awaitClose() throws InterruptedException {
        server.closeFuture().sync();
    }

    @Override
    public void close() {
        // bounded waits: close() also runs in a shutdown hook, which must never hang the JVM's exit
        server.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
        timer.shutdownNow();
        storeThread.shutdown();
        if (cfg.arbiter() != null) cfg.arbiter().close(); // releases a lease we hold: the session ends
        try {
            storeThread.awaitTermination(5, TimeUnit.SECONDS);
            groupCommit.close();
            store.sync(); // an orderly stop keeps what was acknowledged in memory
            store.close();
            lock.release();
            lockChannel.close();
        } catch (Exception e) {
            log.warn("closing the store: {}", e.toString());
        }
        publish();
    }
}
