package io.checkpointd.primary;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.CriuException;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.net.Cidr;
import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.primary.capture.disk.DataDirs;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.FullDumpEngine;
import io.checkpointd.primary.engine.IncrementalEngine;
import io.checkpointd.primary.release.OutputGate;
import io.checkpointd.primary.release.packets.PacketHold;
import io.checkpointd.primary.ship.BackupLink;
import io.checkpointd.primary.ship.EpochShipper;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.status.Window;
import io.checkpointd.restore.arbiter.Lease;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary's epoch loop: every epoch, stop the process, <b>seal</b> its output at the proxy and <b>capture</b>
 * a consistent checkpoint (the {@link CaptureEngine}), let it run on, <b>ship</b> the epoch ({@link EpochShipper});
 * on the backup's ACK, <b>release</b> the epoch's output ({@link OutputGate}). The loop schedules epochs, handles
 * their failures and decides when protection ends (process gone, fenced, lease lost, stopped); the link to the
 * backup ({@link BackupLink}) owns the window of epochs in flight, acks and reconnection, and
 * {@link PrimaryStatus} the figures.
 *
 * <p>{@link EpochSchedule} decides when an epoch ends: by default as soon as the proxy holds output of it (after a
 * floor), else at the interval.
 *
 * <p>At most {@code maxInFlight} epochs are captured but unacknowledged; the next capture waits for an ack, so
 * nothing queues without bound when the backup lags. Losing the backup connection stalls protection (output
 * stays held) and reconnecting starts over with a full sync.
 *
 * <p>With an arbiter ({@link #holdLease(Lease)}), output is released only while the lease is held and the
 * arbiter reachable, and losing the lease ends protection the way being fenced does: the backup may take the
 * lease and the service over, and this copy must not keep running.
 */
public final class Primary implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Primary.class);
    private static final int MAX_CONSECUTIVE_FAILURES = 20;
    /** The status is published at least this often, also while no epoch is due. */
    private static final long STATUS_EVERY_NANOS = 200_000_000L;
    /**
     * After epochs, at most every STATUS_MIN: right after an epoch once that long has passed, else when the loop has
     * idled until then (at least STATUS_IDLE). Each publish (percentiles sorted, the file replaced) takes milliseconds
     * of the epoch loop, which a held reply may be waiting for.
     */
    private static final long STATUS_MIN_NANOS = 200_000_000L, STATUS_IDLE_NANOS = 20_000_000L;

    /** Exit codes of {@link #run()}. */
    public static final int EXIT_PROCESS_GONE = 0, EXIT_STOPPED = 0, EXIT_FAILED = 1, EXIT_FENCED = 3;

    /** Lifecycle. */
    public enum State { STARTING, FULL_SYNC, PROTECTING, DISCONNECTED, STOPPED, FENCED, FAILED }

    private final PrimaryConfig cfg;
    private final PrintWriter console;
    private final Criu criu;
    private final ProcessIdentity service;
    private final Path work;
    private final PrimaryStatus status;
    private final OutputGate gate;
    private final BackupLink link;
    private final EpochShipper shipper;
    private final EpochSchedule schedule;
    /** With {@code --hold packets}: the process's packets wait in a netfilter queue for their epoch's ack; else null. */
    private volatile PacketHold hold;

    private volatile State state = State.STARTING;
    private volatile boolean stop;
    private volatile Lease lease;
    /** The data dirs captured with each epoch, or null. */
    private DataDirs disk;
    private volatile String leaseLostWhy;
    private Freezer freezer;
    private volatile CaptureEngine engine;
    private long epoch;
    private long prevEpoch = -1;
    private long sealFailures;
    private final BackupLossMode lossMode;
    /** The memory oracle's fault point: after its snapshot epoch, protection idles (the backup keeps that epoch). */
    private final Path oracleDir = PrimaryFaults.oracleDir();
    private boolean oracleHeld;
    private long lastPublishNanos, lastEpochNanos;

    /**
     * @param console where progress for a human goes (the full sync's progress, the final word)
     * @throws IOException if the process does not exist or CRIU is unusable
     */
    public Primary(PrimaryConfig cfg, PrintWriter console) throws IOException {
        this.cfg = cfg;
        this.console = console;
        this.service = ProcessIdentity.of(cfg.pid());
        if (service == null) throw new IOException("process " + cfg.pid() + " does not exist");
        this.criu = Criu.locate();
        this.work = cfg.workDir().resolve("primary-" + cfg.pid() + "-gen" + cfg.generation());
        this.schedule = new EpochSchedule(cfg);
        this.status = new PrimaryStatus(cfg, schedule);
        this.gate = new OutputGate(cfg.proxyControl(), cfg.channelKey(), cfg.generation());
        gate.onOutputHeld(schedule::outputHeld);
        this.link = new BackupLink(cfg.backup(), cfg.channelKey(), this::hello, cfg.heartbeatInterval(), cfg.backupTimeout(),
                cfg.maxInFlight(), cfg.continueOnBackupLoss() ? "running unprotected until it is back" : "output stays held until it is back",
                new Answers());
        this.lossMode = new BackupLossMode(cfg, gate, () -> hold, console);
        this.shipper = new EpochShipper(link, cfg.generation(), cfg.pid(), console, new ShipKillPoints(),
                (n, wire, nanos) -> status.written(wire, nanos));
    }

    /**
     * Protects under an arbiter's lease (call before {@link #connect()}): the generation in the config must be the
     * one this lease took from the arbiter's counter, and the proxy is told it at connect, which fences older ones.
     */
    public void holdLease(Lease l) {
        this.lease = l;
        l.onLost(why -> leaseLostWhy = why);
    }

    /** Serves this primary's figures as Prometheus metrics in {@code r} (see {@link PrimaryMetrics}). */
    public void exposeMetrics(io.prometheus.metrics.model.registry.PrometheusRegistry r) {
        PrimaryMetrics.register(r, cfg, status, link, () -> hold);
    }

    /** Captures these data dirs with every epoch (call before {@link #run()}); closed with the primary. */
    public void protectDataDirs(DataDirs d) {
        this.disk = d;
    }

    /**
     * Holds every packet the process sends until its epoch is acknowledged (call before {@link #connect()});
     * released, dropped and closed with the primary.
     */
    public void holdPackets() throws IOException, InterruptedException {
        holdPackets(null);
    }

    /** As {@link #holdPackets()}; with {@code serviceAddress}, its packets are held too and it leaves the host when the process dies. */
    public void holdPackets(Cidr serviceAddress) throws IOException, InterruptedException {
        hold = PacketHold.start(cfg.pid(), schedule::outputHeld, serviceAddress);
    }

    /** Connects to the backup (and proxy) and checks the generation is not fenced; call before {@link #run()}. */
    public void connect() throws IOException, InterruptedException {
        gate.connect();
        if (gate.enabled() && lease != null) {
            // the counter's generation is new to the proxy: announce it (older generations' output is dropped)
            gate.announce(parseService(cfg.serviceAddress()));
        }
        link.connect();
    }

    private Hello hello() {
        return new Hello(cfg.generation(), service.pid(), service.startTicks(), service.bootId(), cfg.serviceAddress(), carriedOptions());
    }

    /** What a backup that re-protects the restored service carries over: the packet hold, the backup-loss policy. */
    private String carriedOptions() {
        String held = hold != null ? "--hold packets" : "";
        String loss = cfg.continueOnBackupLoss() ? "--on-backup-loss continue" : "";
        return (held + " " + loss).strip();
    }

    public State state() {
        return state;
    }

    /** Asks {@link #run()} to finish after the current epoch. */
    public void stop() {
        stop = true;
    }

    /** Protects the process until it exits, the primary is fenced or stopped. @return an exit code */
    public int run() throws InterruptedException {
        try {
            StaleCaptures.remove(cfg.workDir(), cfg.pid(), cfg.generation());
            ImageDirs.deleteTree(work);
            Files.createDirectories(work);
            freezer = Freezer.forProcess(cfg.pid());
            engine = cfg.incremental() ? new IncrementalEngine(criu, cfg.pid(), work, cfg.tracker())
                    : new FullDumpEngine(criu, cfg.pid(), work);
            log.info("pid {}: engine {}, tracker {}", cfg.pid(), engine.name(), engine.tracker());
        } catch (IOException e) {
            return fail("cannot prepare to protect pid " + cfg.pid() + ": " + e.getMessage());
        }
        long period = cfg.epoch().toNanos();
        int failures = 0;
        try {
            while (!stop) {
                // no epoch due yet (a long --epoch): status and checks go on; an epoch not yet published is soon
                long unpublished = Math.max(STATUS_IDLE_NANOS, lastPublishNanos + STATUS_MIN_NANOS - System.nanoTime());
                if (!schedule.awaitNext(lastPublishNanos < lastEpochNanos ? unpublished : STATUS_EVERY_NANOS)) {
                    if (!service.isAlive()) return processGone();
                    if (link.fencedBy() >= 0) return fenced();
                    publish();
                    continue;
                }
                if (!service.isAlive()) return processGone();
                if (link.fencedBy() >= 0) return fenced();
                if (oracleHeld) {
                    publish();
                    continue;
                }
                if (leaseLostWhy != null) return leaseLost();
                if (link.nackStreak() > 1) {
                    // the backup keeps refusing (e.g. its disk is full): retry with a growing pause rather than
                    // re-sending a full image every epoch; output stays held meanwhile
                    TimeUnit.MILLISECONDS.sleep(Math.min(5000, 250L * link.nackStreak()));
                }
                if (!link.isConnected()) {
                    state = State.DISCONNECTED;
                    if (!link.reconnect()) {
                        if (cfg.continueOnBackupLoss()) lossMode.runUnprotected();
                        publish();
                        continue;
                    }
                    if (lossMode.unprotected()) lossMode.protectAgain();
                }
                long waitFrom = System.nanoTime();
                boolean slot = link.acquireSlot(Math.max(period, 50_000_000L));
                status.windowWaitTook(System.nanoTime() - waitFrom);
                if (!slot) {
                    schedule.retry();
                    publish();
                    continue; // the backup lags: the next freeze waits for an ack
                }
                try {
                    epoch();
                    failures = 0;
                } catch (CriuException | DataDirs.CaptureException e) { // a failed data dir capture skips the epoch too
                    link.releaseSlot();
                    if (!service.isAlive()) return processGone();
                    failures++;
                    log.error("epoch {} failed ({} in a row): {}", epoch, failures, e.getMessage());
                    if (failures >= MAX_CONSECUTIVE_FAILURES) return fail("giving up after " + failures + " failed epochs: " + e.getMessage());
                } catch (FreezeException e) {
                    // the freezer or the proxy did not answer: stall (output stays held) and keep trying
                    link.releaseSlot();
                    if (!service.isAlive()) return processGone();
                    if (sealFailures++ % 50 == 0) log.warn("epoch {} skipped ({} so far): {}", epoch, sealFailures, e.getMessage());
                } catch (RuntimeException e) {
                    // a bug, not a fault of the process or the backup: the epoch is lost, the process runs on thawed,
                    // and the next epoch starts over with a full sync; persistent, it ends protection loudly
                    link.releaseSlot();
                    link.requestFull();
                    failures++;
                    log.error("epoch {} failed ({} in a row)", epoch, failures, e);
                    if (failures >= MAX_CONSECUTIVE_FAILURES) return fail("giving up after " + failures + " failed epochs: " + e);
                } catch (IOException e) {
                    // the capture failed, or the connection broke while shipping (in-flight epochs are lost,
                    // reconnect does a full sync): the next epoch is a full sync either way
                    log.warn("epoch {} failed: {}", epoch, e.getMessage());
                    link.requestFull();
                }
                publishIfDue();
            }
            state = State.STOPPED;
            console.println("checkpointd: protection of pid " + cfg.pid() + " stopped");
            console.flush();
            return EXIT_STOPPED;
        } finally {
            publish();
        }
    }

    /** One epoch: freeze, seal, capture (the engine thaws), then ship while the process runs on. */
    private void epoch() throws IOException, InterruptedException {
        try {
            gate.connect(); // before freezing: an unreachable proxy must not cost the service a frozen timeout
        } catch (IOException e) {
            throw new FreezeException("the proxy is unreachable: " + e.getMessage());
        }
        long n = ++epoch;
        if (oracleDir != null && Files.exists(oracleDir.resolve("request"))) {
            engine.requestOracleSnapshot(oracleDir.resolve("truth"));
        }
        // taken, not read: a NACK that arrives while this epoch ships asks again for the next one
        boolean full = link.takeNeedFull() || prevEpoch < 0;
        try {
            if (disk != null) disk.precopy(full); // a data dir's full copy is made while the process still runs
        } catch (IOException | RuntimeException e) {
            if (full) link.requestFull();
            throw e;
        }
        if (link.shipping()) status.captureWhileShipping(); // epoch n-1 still ships on the link's stage
        schedule.freezing();
        long t0 = System.nanoTime();
        CaptureEngine.Capture cap;
        try {
            cap = engine.capture(n, full, new EpochPause(n, freezer, gate, hold, schedule, disk, cfg.pid()));
        } catch (CriuException | DataDirs.CaptureException | RuntimeException e) { // the loop frees their slot
            if (full) link.requestFull();
            throw e;
        } catch (IOException e) {
            link.releaseSlot(); // never shipped, so no ack frees it; the loop takes other I/O errors for ship failures
            if (full) link.requestFull();
            throw e;
        } finally {
            freezer.thaw();
            schedule.thawed();
        }
        long pause = cap.pausedNanos(t0);
        long shipFrom = System.nanoTime();
        status.captureTook(shipFrom - t0);
        try {
            if (cap.full()) state = State.FULL_SYNC;
            EpochShipper.Shipped shipped = shipper.ship(n, cap.full() ? EpochBegin.FULL : prevEpoch, cap, pause, disk);
            status.shipped(pause, cap.capturedBytes(), shipped);
            status.shipTook(System.nanoTime() - shipFrom);
            if (state == State.FULL_SYNC) state = State.PROTECTING;
        } catch (IOException | RuntimeException e) {
            link.requestFull();
            throw e;
        }
        prevEpoch = n;
        if (oracleDir != null && engine.oracleEpoch() == n) {
            Files.writeString(oracleDir.resolve("epoch.tmp"), Long.toString(n));
            Files.move(oracleDir.resolve("epoch.tmp"), oracleDir.resolve("epoch"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            oracleHeld = true;
            log.warn("oracle fault point: epoch {} snapshot taken; no further epochs", n);
        }
    }

    /** The link's news: an ack releases the epoch's output (while the lease, if any, is confirmed). */
    private final class Answers implements BackupLink.Listener {
        @Override
        public void acked(long n) {
            Lease l = lease;
            if ((gate.enabled() || hold != null) && l != null && !l.isHeld()) {
                // in doubt (disconnected from the arbiter) or lost: hold; a later RELEASE covers this epoch too
                log.warn("epoch {} acknowledged but not released: the arbiter's lease is not confirmed", n);
                return;
            }
            gate.release(n);
            PacketHold h = hold;
            if (h != null) h.release(n);
            if (PrimaryFaults.armed(PrimaryFaults.KillPoint.AFTER_ACK)) {
                try {
                    gate.sync(Duration.ofSeconds(1)); // the release reached the proxy: its output may be out
                } catch (IOException e) {
                    log.warn("kill point after-ack: the proxy did not confirm release {}: {}", n, e.getMessage());
                }
                PrimaryFaults.reached(PrimaryFaults.KillPoint.AFTER_ACK, n, cfg.pid());
            }
        }

        @Override
        public void invalidated() {
            CaptureEngine e = engine;
            if (e != null) e.invalidate();
        }
    }

    /** The ship's kill points: what was sent reaches the socket first, so the backup can see it. */
    private final class ShipKillPoints implements EpochShipper.ShipFaults {
        @Override
        public void recordSent(long n) {
            killAt(PrimaryFaults.KillPoint.MID_SHIP, n);
        }

        @Override
        public void endSent(long n) {
            killAt(PrimaryFaults.KillPoint.BEFORE_ACK, n);
        }

        @Override
        public boolean everyRecord() {
            return PrimaryFaults.armed(PrimaryFaults.KillPoint.MID_SHIP);
        }

        private void killAt(PrimaryFaults.KillPoint p, long n) {
            if (!PrimaryFaults.armed(p)) return;
            link.drain(Duration.ofSeconds(1));
            PrimaryFaults.reached(p, n, cfg.pid());
        }
    }

    private int processGone() {
        state = State.STOPPED;
        String what = "protected process " + cfg.pid() + " exited";
        if (hold != null) hold.withdraw(); // before the backup hears of it: nothing here may answer for the service
        if (cfg.failoverOnExit() && link.isConnected()) {
            try {
                link.sendPrimaryExit(cfg.generation(), epoch);
                what += "; told the backup to take over";
            } catch (IOException | InterruptedException e) {
                what += "; could not tell the backup (" + e.getMessage() + "), it takes over on heartbeat timeout";
            }
        }
        log.warn(what);
        console.println("checkpointd: " + what);
        console.flush();
        return EXIT_PROCESS_GONE;
    }

    private int fenced() {
        state = State.FENCED;
        // the backup has taken over: this process's output can never be released again, and a second copy
        // of the service must not keep running and holding its resources
        String msg = "generation " + cfg.generation() + " was fenced (backup at generation " + link.fencedBy()
                + "): stopping protection and killing the superseded process " + cfg.pid();
        log.error(msg);
        console.println("checkpointd: " + msg);
        console.flush();
        if (hold != null) hold.withdraw(); // before the kill: the superseded process's sockets cannot send
        if (service.isAlive()) ProcessHandle.of(cfg.pid()).ifPresent(ProcessHandle::destroyForcibly);
        return EXIT_FENCED;
    }

    private int leaseLost() {
        state = State.FENCED;
        // the backup may now take the lease and restore the service: a second copy must not keep running
        String msg = "generation " + cfg.generation() + " lost the arbiter's lease (" + leaseLostWhy
                + "): stopping protection and killing the process " + cfg.pid();
        log.error(msg);
        console.println("checkpointd: " + msg);
        console.flush();
        if (hold != null) hold.withdraw(); // before the kill: the superseded process's sockets cannot send
        if (service.isAlive()) ProcessHandle.of(cfg.pid()).ifPresent(ProcessHandle::destroyForcibly);
        return EXIT_FENCED;
    }

    private static java.net.InetSocketAddress parseService(String hostPort) throws IOException {
        int i = hostPort.lastIndexOf(':');
        if (i <= 0) throw new IOException("the proxy must be told where the service is: --service HOST:PORT is needed with an arbiter");
        return new java.net.InetSocketAddress(hostPort.substring(0, i), Integer.parseInt(hostPort.substring(i + 1)));
    }

    private int fail(String why) {
        state = State.FAILED;
        log.error(why);
        console.println("checkpointd: " + why);
        console.flush();
        return EXIT_FAILED;
    }

    /**
     * After an epoch: publishes unless the last publish is under {@link #STATUS_MIN_NANOS} old. At hundreds of epochs
     * a second (epochs ending on output), a status per epoch (its percentiles sorted, the file replaced) took CPU
     * from the very replies it measures.
     */
    private void publishIfDue() {
        lastEpochNanos = System.nanoTime();
        if (lastEpochNanos - lastPublishNanos >= STATUS_MIN_NANOS) publish();
    }

    private void publish() {
        lastPublishNanos = System.nanoTime();
        status.publish(new PrimaryStatus.Loop(state, lease, engine, prevEpoch, lossMode.unprotected(), lossMode.episodes(), disk,
                hold), link);
    }

    /** Waits up to {@code max} until no epoch is in flight (not while fenced or disconnected: no ack can come). */
    private void awaitAcks(Duration max) {
        long until = System.nanoTime() + max.toNanos();
        while (link.inFlight() > 0 && link.isConnected() && link.fencedBy() < 0 && System.nanoTime() < until) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** Pause figures so far (for the demo's summary). */
    public Window pauseMs() {
        return status.pauseMs();
    }

    @Override
    public void close() {
        stop = true;
        if (engine != null) engine.close();
        if (freezer != null) {
            try {
                freezer.close();
            } catch (IOException e) {
                log.warn("releasing the freezer cgroup: {}", e.getMessage());
            }
        }
        if (hold != null) {
            awaitAcks(java.time.Duration.ofSeconds(2)); // a clean stop releases what the backup acknowledges meanwhile
            hold.close();
        }
        link.close();
        gate.close();
        if (disk != null) disk.close();
        try {
            ImageDirs.deleteTree(work);
        } catch (IOException e) {
            log.warn("cleaning {}: {}", work, e.getMessage());
        }
        publish();
    }
}
