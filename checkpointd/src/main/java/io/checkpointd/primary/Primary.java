package io.checkpointd.primary;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.CriuException;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.linux.proc.ProcessIdentity;
import io.checkpointd.primary.capture.DeltaComputer;
import io.checkpointd.primary.capture.disk.DataDirs;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.engine.FullDumpEngine;
import io.checkpointd.primary.engine.IncrementalEngine;
import io.checkpointd.primary.release.OutputGate;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.replication.EpochBegin;
import io.checkpointd.protocol.replication.EpochEnd;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.StatusFile;
import io.checkpointd.protocol.status.Window;
import io.checkpointd.restore.arbiter.Lease;
import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The primary: every epoch, <b>freeze</b> the process (cgroup freezer), <b>seal</b> its output at the proxy,
 * <b>capture</b> a consistent checkpoint (this engine: a full CRIU dump, leave-running, into tmpfs), <b>thaw</b>;
 * then, while the process runs on, compute the <b>delta</b> against the previous capture (4 KiB pages by virtual
 * address, image files whole) and <b>ship</b> it; on the backup's ACK, <b>release</b> the epoch's output.
 *
 * <p>At most {@code maxInFlight} epochs are captured but unacknowledged; the next freeze waits for an ack, so
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
    /** Periods an epoch schedule that fell behind may catch up, back to back. */
    private static final long CATCH_UP = 4;

    /** Exit codes of {@link #run()}. */
    public static final int EXIT_PROCESS_GONE = 0, EXIT_STOPPED = 0, EXIT_FAILED = 1, EXIT_FENCED = 3;

    /** Lifecycle. */
    public enum State { STARTING, FULL_SYNC, PROTECTING, DISCONNECTED, STOPPED, FENCED, FAILED }

    private final PrimaryConfig cfg;
    private final PrintWriter console;
    private final Criu criu;
    private final ProcessIdentity service;
    private final Path work;
    private final StatusFile status;
    private final Semaphore window;
    private final Map<Long, Sent> inFlight = new ConcurrentHashMap<>();
    private final Window pauseMs = new Window(1024);
    private final Window ackMs = new Window(1024);
    private final Window capturedBytes = new Window(1024);
    private final Window rawBytes = new Window(1024);
    private final Window wireBytes = new Window(1024);
    /** Where an epoch's cycle goes, ms: capture (the engine's pre-copy and pause), ship (encode, compress, send), window (waiting for an ack). */
    private final Window captureMs = new Window(1024), shipMs = new Window(1024), windowMs = new Window(1024);
    private final long startNanos = System.nanoTime();

    private volatile State state = State.STARTING;
    private volatile boolean stop;
    /** Set by a NACK or a lost connection, taken (atomically cleared) by the epoch that ships in full. */
    private final java.util.concurrent.atomic.AtomicBoolean needFull = new java.util.concurrent.atomic.AtomicBoolean(true);
    private volatile long fencedBy = -1;
    private volatile long lastAcked = -1;
    private volatile long epochsAcked;
    /** NACKs since the last ACK, and the latest reason: the backup's store may be full or read-only. */
    private volatile int nackStreak;
    private volatile String lastNack = "";
    private volatile ReplicationClient client;
    private final OutputGate gate;
    private volatile Lease lease;
    /** Issue 5: the data dirs captured with each epoch, or null. */
    private DataDirs disk;
    private volatile String leaseLostWhy;
    private Freezer freezer;
    private CaptureEngine engine;
    private long epoch;
    private long prevEpoch = -1;
    private long totalRaw, totalWire;
    /** Of totalRaw, the bytes of image files (the rest is pages and record framing): what page-level compression ideas cannot touch. */
    private long totalFileBytes;
    private long sealFailures;
    private long unreachableLogged;
    private volatile boolean unprotected;
    /** The memory oracle's fault point: after its snapshot epoch, protection idles (the backup keeps that epoch). */
    private final Path oracleDir = PrimaryFaults.oracleDir();
    private boolean oracleHeld;
    private volatile long unprotectedEpisodes;
    /** When the backup last answered (ACK or NACK) or we connected: its silence beyond backupTimeout is a loss. */
    private volatile long lastAnswerNanos = System.nanoTime();
    /** When the last EPOCH_END went out. */
    private volatile long lastEndSentNanos = System.nanoTime();

    /**
     * An epoch holding a window slot, from its EPOCH_BEGIN until its ACK or NACK: registered before anything is sent,
     * because the backup may NACK at the first bad record, long before the epoch's END goes out.
     */
    private static final class Sent {
        volatile long endNanos;
    }

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
        this.status = new StatusFile(StatusFile.runDir(cfg.runDir()), "primary");
        this.window = new Semaphore(cfg.maxInFlight());
        this.gate = new OutputGate(cfg.proxyControl(), cfg.channelKey(), cfg.generation());
    }

    /**
     * Protects under an arbiter's lease (call before {@link #connect()}): the generation in the config must be the
     * one this lease took from the arbiter's counter, and the proxy is told it at connect, which fences older ones.
     */
    public void holdLease(Lease l) {
        this.lease = l;
        l.onLost(why -> leaseLostWhy = why);
    }

    /** Issue 5: captures these data dirs with every epoch (call before {@link #run()}); closed with the primary. */
    public void protectDataDirs(DataDirs d) {
        this.disk = d;
    }

    /** Connects to the backup (and proxy) and checks the generation is not fenced; call before {@link #run()}. */
    public void connect() throws IOException, InterruptedException {
        gate.connect();
        if (gate.enabled() && lease != null) {
            // the counter's generation is new to the proxy: announce it (older generations' output is dropped)
            gate.announce(parseService(cfg.serviceAddress()));
        }
        client = ReplicationClient.connect(cfg.backup(), cfg.channelKey(), hello(), cfg.heartbeatInterval(), Duration.ofSeconds(5), new Acks());
        log.info("connected to backup {} (it has committed generation {}, epoch {})", cfg.backup(),
                client.helloOk().committedGeneration(), client.helloOk().committedEpoch());
    }

    private Hello hello() {
        return new Hello(cfg.generation(), service.pid(), service.startTicks(), service.bootId(), cfg.serviceAddress());
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
            removeStaleCaptures(cfg.workDir(), cfg.pid(), cfg.generation());
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
        long next = System.nanoTime();
        int failures = 0;
        try {
            while (!stop) {
                long now = System.nanoTime();
                if (next > now) TimeUnit.NANOSECONDS.sleep(next - now);
                // a fixed rate: epochs that came late are caught up back to back, up to CATCH_UP periods' worth
                // (a slow ack, a CRIU dump); beyond that the schedule starts over from now
                next = Math.max(next + period, System.nanoTime() - CATCH_UP * period);
                if (!service.isAlive()) return processGone();
                if (fencedBy >= 0) return fenced();
                if (oracleHeld) {
                    publish();
                    continue;
                }
                if (leaseLostWhy != null) return leaseLost();
                if (nackStreak > 1) {
                    // the backup keeps refusing (e.g. its disk is full): retry with a growing pause rather than
                    // re-sending a full image every epoch; output stays held meanwhile
                    TimeUnit.MILLISECONDS.sleep(Math.min(5000, 250L * nackStreak));
                }
                if (client == null || !client.isConnected()) {
                    if (!reconnect()) {
                        if (cfg.continueOnBackupLoss()) runUnprotected();
                        publish();
                        continue;
                    }
                    if (unprotected) protectAgain();
                }
                long waitFrom = System.nanoTime();
                boolean slot = window.tryAcquire(Math.max(period, 50_000_000L), TimeUnit.NANOSECONDS);
                windowMs.add((System.nanoTime() - waitFrom) / 1e6);
                if (!slot) {
                    // silence counts from the later of the last answer and the end of the last epoch sent: a long
                    // full sync cannot be answered before it ends
                    long since = Math.max(lastAnswerNanos, lastEndSentNanos);
                    if (!inFlight.isEmpty() && System.nanoTime() - since > cfg.backupTimeout().toNanos()) {
                        // connected but silent (a hung host, a half-open connection): treat it as lost
                        log.warn("backup {} has not answered for {} ms: reconnecting", cfg.backup(), cfg.backupTimeout().toMillis());
                        client.close();
                    }
                    publish();
                    continue; // the backup lags: the next freeze waits for an ack
                }
                try {
                    epoch();
                    failures = 0;
                } catch (CriuException | DataDirs.CaptureException e) { // issue 5: a failed data dir capture skips the epoch too
                    window.release();
                    if (!service.isAlive()) return processGone();
                    failures++;
                    log.error("epoch {} failed ({} in a row): {}", epoch, failures, e.getMessage());
                    if (failures >= MAX_CONSECUTIVE_FAILURES) return fail("giving up after " + failures + " failed epochs: " + e.getMessage());
                } catch (FreezeException e) {
                    // the freezer or the proxy did not answer: stall (output stays held) and keep trying
                    window.release();
                    if (!service.isAlive()) return processGone();
                    if (sealFailures++ % 50 == 0) log.warn("epoch {} skipped ({} so far): {}", epoch, sealFailures, e.getMessage());
                } catch (RuntimeException e) {
                    // a bug, not a fault of the process or the backup: the epoch is lost, the process runs on thawed,
                    // and the next epoch starts over with a full sync; persistent, it ends protection loudly
                    window.release();
                    needFull.set(true);
                    failures++;
                    log.error("epoch {} failed ({} in a row)", epoch, failures, e);
                    if (failures >= MAX_CONSECUTIVE_FAILURES) return fail("giving up after " + failures + " failed epochs: " + e);
                } catch (IOException e) {
                    // the connection broke while shipping: in-flight epochs are lost, reconnect does a full sync
                    log.warn("shipping epoch {} failed: {}", epoch, e.getMessage());
                    needFull.set(true);
                }
                publish();
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
        if (oracleDir != null && engine instanceof IncrementalEngine ie && Files.exists(oracleDir.resolve("request"))) {
            ie.requestOracleSnapshot(oracleDir.resolve("truth"));
        }
        // taken, not read: a NACK that arrives while this epoch ships asks again for the next one
        boolean full = needFull.getAndSet(false) || prevEpoch < 0;
        try {
            if (disk != null) disk.precopy(full); // issue 5: a data dir's full copy is made while the process still runs
        } catch (IOException | RuntimeException e) {
            if (full) needFull.set(true);
            throw e;
        }
        long t0 = System.nanoTime();
        CaptureEngine.Capture cap;
        try {
            cap = engine.capture(n, full, new EpochPause(n));
        } catch (IOException | RuntimeException e) {
            if (full) needFull.set(true);
            throw e;
        } finally {
            freezer.thaw();
        }
        long pause = cap.pausedNanos(t0);
        long shipFrom = System.nanoTime();
        captureMs.add((shipFrom - t0) / 1e6);
        try {
            ship(n, cap, pause);
            shipMs.add((System.nanoTime() - shipFrom) / 1e6);
        } catch (IOException | RuntimeException e) {
            needFull.set(true);
            throw e;
        }
        prevEpoch = n;
        if (oracleDir != null && engine instanceof IncrementalEngine ie && ie.oracleEpoch() == n) {
            Files.writeString(oracleDir.resolve("epoch.tmp"), Long.toString(n));
            Files.move(oracleDir.resolve("epoch.tmp"), oracleDir.resolve("epoch"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            oracleHeld = true;
            log.warn("oracle fault point: epoch {} snapshot taken; no further epochs", n);
        }
    }

    private void ship(long n, CaptureEngine.Capture cap, long pauseNanos) throws IOException, InterruptedException {
        long captured = cap.capturedBytes();
        boolean full = cap.full();
        if (full) state = State.FULL_SYNC;
        MessageDigest md = sha256();
        long[] raw = {0};
        long wire0 = client.wireBytes();
        Progress progress = full ? new Progress(captured) : null;
        Sent sent = new Sent();
        inFlight.put(n, sent);
        client.send(new Frame(FrameType.EPOCH_BEGIN, cfg.generation(), n,
                new EpochBegin(full ? EpochBegin.FULL : prevEpoch, pauseNanos, captured).encode()));
        DeltaComputer.Sink sink = rec -> {
            byte[] p = rec.encode();
            md.update(p);
            raw[0] += p.length;
            try {
                client.send(new Frame(FrameType.EPOCH_DATA, cfg.generation(), n, p));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted");
            }
            if (progress != null) progress.update(raw[0]);
            killPoint(PrimaryFaults.KillPoint.MID_SHIP, n);
        };
        CaptureEngine.Delta r = cap.ship(sink::accept);
        int diskRecords = disk == null ? 0 : disk.ship(sink); // issue 5: inside BEGIN…END, so the digest and count cover them
        client.send(new Frame(FrameType.EPOCH_END, cfg.generation(), n, new EpochEnd(r.records() + diskRecords, md.digest(), r.manifest()).encode()));
        sent.endNanos = System.nanoTime();
        lastEndSentNanos = sent.endNanos;
        killPoint(PrimaryFaults.KillPoint.BEFORE_ACK, n);
        long wire = client.wireBytes() - wire0;
        if (progress != null) progress.done(raw[0], wire);
        pauseMs.add(pauseNanos / 1e6);
        capturedBytes.add(captured);
        rawBytes.add(raw[0]);
        wireBytes.add(wire);
        totalRaw += raw[0];
        totalFileBytes += r.shippedFileBytes();
        totalWire += wire;
        if (state == State.FULL_SYNC) state = State.PROTECTING;
    }

    /** A kill point in the ship: what was sent reaches the socket first, so the backup can see it. */
    private void killPoint(PrimaryFaults.KillPoint p, long n) {
        if (!PrimaryFaults.armed(p)) return;
        client.drain(Duration.ofSeconds(1));
        PrimaryFaults.reached(p, n, cfg.pid());
    }

    /** Full-sync progress on the console: bytes and rate, at most twice a second. */
    private final class Progress {
        private final long total;
        private final long t0 = System.nanoTime();
        private long lastPrint;

        Progress(long total) {
            this.total = total;
        }

        void update(long done) {
            long now = System.nanoTime();
            if (now - lastPrint < 500_000_000L) return;
            lastPrint = now;
            console.printf("checkpointd: full sync of pid %d: %.1f MB of ~%.1f MB (%.0f MB/s)%n", cfg.pid(), done / 1e6,
                    total / 1e6, done / 1e6 / Math.max(1e-3, (now - t0) / 1e9));
            console.flush();
        }

        void done(long raw, long wire) {
            double s = Math.max(1e-3, (System.nanoTime() - t0) / 1e9);
            console.printf("checkpointd: full sync of pid %d shipped: %.1f MB raw, %.1f MB compressed, %.2f s (%.0f MB/s)%n",
                    cfg.pid(), raw / 1e6, wire / 1e6, s, raw / 1e6 / s);
            console.flush();
        }
    }

    /** --on-backup-loss continue: let the proxy release output at once, and say so loudly. */
    private void runUnprotected() {
        if (unprotected) return;
        try {
            gate.passthrough();
        } catch (IOException e) {
            log.error("backup lost, and the proxy refused passthrough ({}): output stays held", e.getMessage());
            return;
        }
        unprotected = true;
        unprotectedEpisodes++;
        String msg = "backup " + cfg.backup() + " lost: pid " + cfg.pid() + " runs UNPROTECTED (--on-backup-loss continue): "
                + "its output is released at once and a failure now would lose it; protection resumes when the backup is back";
        log.error(msg);
        console.println("checkpointd: WARNING: " + msg);
        console.flush();
    }

    /** The backup is back: hold output again before the next freeze, so everything from here on is protected. */
    private void protectAgain() {
        try {
            gate.hold();
            unprotected = false;
            log.warn("backup {} is back: pid {} is protected again (full sync first)", cfg.backup(), cfg.pid());
            console.println("checkpointd: backup is back: protection resumes with a full sync");
            console.flush();
        } catch (IOException e) {
            log.error("the proxy refused to hold output again ({}): still unprotected", e.getMessage());
        }
    }

    private boolean reconnect() throws InterruptedException {
        state = State.DISCONNECTED;
        if (client != null) client.close();
        client = null;
        inFlight.clear();
        window.drainPermits();
        window.release(cfg.maxInFlight());
        needFull.set(true);
        if (engine != null) engine.invalidate();
        try {
            client = ReplicationClient.connect(cfg.backup(), cfg.channelKey(), hello(), cfg.heartbeatInterval(), Duration.ofSeconds(2), new Acks());
            lastAnswerNanos = System.nanoTime();
            unreachableLogged = 0;
            log.info("reconnected to backup {}: starting over with a full sync", cfg.backup());
            return true;
        } catch (ReplicationClient.FencedException e) {
            fencedBy = e.fencedGeneration();
            return false;
        } catch (IOException e) {
            if (unreachableLogged++ % 25 == 0) {
                log.warn("backup {} unreachable: {} ({})", cfg.backup(), e.getMessage(),
                        cfg.continueOnBackupLoss() ? "running unprotected until it is back" : "output stays held until it is back");
            }
            Thread.sleep(200);
            return false;
        }
    }

    private final class Acks implements ReplicationClient.Listener {
        @Override
        public void acked(long generation, long n) {
            lastAnswerNanos = System.nanoTime();
            Sent s = inFlight.remove(n);
            if (s == null) return; // an epoch of a previous connection: its slot was already reset
            if (s.endNanos != 0) ackMs.add((System.nanoTime() - s.endNanos) / 1e6);
            lastAcked = Math.max(lastAcked, n);
            epochsAcked++;
            nackStreak = 0;
            Lease l = lease;
            if (gate.enabled() && l != null && !l.isHeld()) {
                // in doubt (disconnected from the arbiter) or lost: hold; a later RELEASE covers this epoch too
                log.warn("epoch {} acknowledged but not released: the arbiter's lease is not confirmed", n);
            } else {
                gate.release(n);
                if (PrimaryFaults.armed(PrimaryFaults.KillPoint.AFTER_ACK)) {
                    try {
                        gate.sync(Duration.ofSeconds(1)); // the release reached the proxy: its output may be out
                    } catch (IOException e) {
                        log.warn("kill point after-ack: the proxy did not confirm release {}: {}", n, e.getMessage());
                    }
                    PrimaryFaults.reached(PrimaryFaults.KillPoint.AFTER_ACK, n, cfg.pid());
                }
            }
            window.release();
        }

        @Override
        public void nacked(long n, String reason) {
            lastAnswerNanos = System.nanoTime();
            if (nackStreak++ % 20 == 0) log.warn("backup rejected epoch {}: {}; the next epoch is a full sync", n, reason);
            lastNack = reason;
            needFull.set(true);
            CaptureEngine e = engine;
            if (e != null) e.invalidate(); // XOR bases: the backup's image is not what was shipped
            if (inFlight.remove(n) != null) window.release();
        }

        @Override
        public void fenced(long fencedGeneration) {
            fencedBy = fencedGeneration;
        }

        @Override
        public void disconnected() {
            log.warn("lost the connection to backup {}", cfg.backup());
        }
    }

    private int processGone() {
        state = State.STOPPED;
        String what = "protected process " + cfg.pid() + " exited";
        if (cfg.failoverOnExit() && client != null && client.isConnected()) {
            try {
                client.send(Frame.of(FrameType.PRIMARY_EXIT, cfg.generation(), epoch));
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
        String msg = "generation " + cfg.generation() + " was fenced (backup at generation " + fencedBy
                + "): stopping protection and killing the superseded process " + cfg.pid();
        log.error(msg);
        console.println("checkpointd: " + msg);
        console.flush();
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

    private void publish() {
        double up = (System.nanoTime() - startNanos) / 1e9;
        status.publish(Json.object().put("role", "primary").put("pid", ProcessHandle.current().pid())
                .put("state", state.name().toLowerCase()).put("servicePid", cfg.pid()).put("generation", cfg.generation())
                .put("leaseHeld", lease == null ? null : lease.isHeld())
                .put("engine", engine == null ? null : engine.name()).put("tracker", engine == null ? null : engine.tracker())
                .put("engineStats", engine == null ? null : engine.stats())
                .put("backup", cfg.backup().getHostString() + ":" + cfg.backup().getPort())
                .put("epochIntervalMs", cfg.epoch().toMillis()).put("lastEpoch", prevEpoch).put("lastAckedEpoch", lastAcked)
                .put("epochsAcked", epochsAcked).put("inFlight", inFlight.size()).put("maxInFlight", cfg.maxInFlight())
                .put("epochsPerSecond", Math.round(epochsAcked / Math.max(up, 1e-3) * 100) / 100.0)
                .put("pauseMs", pauseMs.summary()).put("ackMs", ackMs.summary())
                .put("cycleMs", Json.object().put("capture", captureMs.summary()).put("ship", shipMs.summary()).put("window", windowMs.summary()))
                .put("capturedBytes", capturedBytes.summary()).put("shippedRawBytes", rawBytes.summary())
                .put("shippedWireBytes", wireBytes.summary()).put("totalShippedRawBytes", totalRaw).put("totalShippedFileBytes", totalFileBytes)
                .put("totalShippedWireBytes", totalWire).put("rejectedInARow", nackStreak)
                .put("onBackupLoss", cfg.continueOnBackupLoss() ? "continue" : "stall").put("unprotected", unprotected)
                .put("unprotectedEpisodes", unprotectedEpisodes).put("lastRejection", lastNack)
                .put("dataDirs", disk == null ? null : disk.status()) // issue 5
                .put("updatedAt", System.currentTimeMillis()));
    }

    /** Pause figures so far (for the demo's summary). */
    public Window pauseMs() {
        return pauseMs;
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
        if (client != null) client.close();
        gate.close();
        if (disk != null) disk.close(); // issue 5
        try {
            ImageDirs.deleteTree(work);
        } catch (IOException e) {
            log.warn("cleaning {}: {}", work, e.getMessage());
        }
        publish();
    }

    /** What an engine needs of the primary for epoch {@code n}'s pause. */
    private final class EpochPause implements CaptureEngine.Pause {
        private final long n;
        private boolean sealed;

        EpochPause(long n) {
            this.n = n;
        }

        @Override
        public Freezer freezer() {
            return freezer;
        }

        @Override
        public void freeze() throws IOException {
            try {
                freezer.freeze(Duration.ofSeconds(5));
            } catch (IOException e) {
                throw new FreezeException("freeze failed: " + e.getMessage());
            }
        }

        @Override
        public void seal() throws IOException {
            if (sealed) throw new IllegalStateException("epoch " + n + " sealed twice");
            sealed = true;
            try {
                gate.seal(n);
            } catch (IOException e) {
                throw new FreezeException("sealing output at the proxy failed: " + e.getMessage());
            }
        }

        @Override
        public void atCapture() throws IOException {
            // issue 5: the data dirs are captured at the instant the memory is (threads stopped, or frozen after a
            // CRIU dump)
            if (disk != null) disk.captureFrozen();
            PrimaryFaults.reached(PrimaryFaults.KillPoint.PAUSE, n, cfg.pid());
        }
    }

    /** A freeze or seal that failed: the epoch is skipped, the process keeps running. */
    private static final class FreezeException extends IOException {
        private static final long serialVersionUID = 1L;

        FreezeException(String m) {
            super(m);
        }
    }

    /**
     * Captures left in the (tmpfs) work root by primaries that were killed: those of a service that is gone, and
     * older generations of our own service. They hold RAM until removed, and nothing else removes them.
     */
    static void removeStaleCaptures(Path root, int pid, long generation) throws IOException {
        if (!Files.isDirectory(root)) return;
        java.util.regex.Pattern name = java.util.regex.Pattern.compile("primary-(\\d+)-gen(\\d+)");
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                java.util.regex.Matcher m = name.matcher(p.getFileName().toString());
                if (!m.matches()) continue;
                int owner = Integer.parseInt(m.group(1));
                long gen = Long.parseLong(m.group(2));
                boolean gone = !Files.exists(Path.of("/proc/" + owner));
                if (gone || (owner == pid && gen < generation)) {
                    log.info("removing stale captures {}", p);
                    ImageDirs.deleteTree(p);
                }
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
