package io.checkpointd.primary;

import io.checkpointd.primary.capture.disk.DataDirs;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.ship.BackupLink;
import io.checkpointd.primary.ship.EpochShipper;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.StatusFile;
import io.checkpointd.protocol.status.Window;
import io.checkpointd.restore.arbiter.Lease;
import java.io.IOException;

/**
 * The primary's figures (pause, ship, ack and the epoch cycle's parts, bytes raw and on the wire) and its status file,
 * which {@code checkpointd status} and the tests read.
 */
final class PrimaryStatus {
    private final PrimaryConfig cfg;
    private final StatusFile file;
    private final long startNanos = System.nanoTime();
    /** Why epochs ended (output held or the interval): published as {@code epochEnds}. */
    private final EpochSchedule schedule;
    private final Window pauseMs = new Window(1024);
    private final Window capturedBytes = new Window(1024);
    private final Window rawBytes = new Window(1024);
    private final Window wireBytes = new Window(1024);
    /**
     * Where an epoch's cycle goes, ms: capture (the engine's pre-copy and pause), ship (the records produced and
     * queued, on the epoch loop), write (from BEGIN queued to END on the wire: the ship stage's queue, compression
     * and writes, overlapping the next capture), window (waiting for an ack).
     */
    private final Window captureMs = new Window(1024), shipMs = new Window(1024), writeMs = new Window(1024), windowMs = new Window(1024);
    /** Captures begun while an earlier epoch's frames were still queued or being written: the pipeline at work. */
    private volatile long capturesWhileShipping;
    /** Written by the epoch loop, read by metrics scrapes too. */
    private volatile long totalRaw, totalWire;
    /** The engine's counters and whether the loop runs unprotected, as last published (for metrics scrapes). */
    private volatile java.util.Map<String, Object> engineStats = java.util.Map.of();
    private volatile boolean unprotected;
    /** Of totalRaw, the bytes of image files (the rest is pages and record framing). */
    private long totalFileBytes;

    /** What the epoch loop knows that the figures do not: published with them. */
    record Loop(Primary.State state, Lease lease, CaptureEngine engine, long lastEpoch, boolean unprotected,
            long unprotectedEpisodes, DataDirs disk, io.checkpointd.primary.release.packets.PacketHold hold) {
    }

    PrimaryStatus(PrimaryConfig cfg, EpochSchedule schedule) throws IOException {
        this.cfg = cfg;
        this.schedule = schedule;
        this.file = new StatusFile(StatusFile.runDir(cfg.runDir()), "primary");
    }

    /** An epoch was captured with {@code pauseNanos} of pause and its records queued to ship. */
    void shipped(long pauseNanos, long captured, EpochShipper.Shipped s) {
        pauseMs.add(pauseNanos / 1e6);
        capturedBytes.add(captured);
        rawBytes.add(s.rawBytes());
        totalRaw += s.rawBytes();
        totalFileBytes += s.fileBytes();
    }

    /** An epoch's END is on the wire (the ship stage's thread). */
    void written(long wire, long writeNanos) {
        wireBytes.add(wire);
        writeMs.add(writeNanos / 1e6);
        totalWire += wire; // only this thread writes it
    }

    /** A capture begins while an earlier epoch still ships. */
    void captureWhileShipping() {
        capturesWhileShipping++; // only the epoch loop writes it
    }

    void captureTook(long nanos) {
        captureMs.add(nanos / 1e6);
    }

    void shipTook(long nanos) {
        shipMs.add(nanos / 1e6);
    }

    void windowWaitTook(long nanos) {
        windowMs.add(nanos / 1e6);
    }

    /** Pause figures so far (for the demo's summary). */
    Window pauseMs() {
        return pauseMs;
    }

    long totalRawBytes() {
        return totalRaw;
    }

    long totalWireBytes() {
        return totalWire;
    }

    java.util.Map<String, Object> engineStats() {
        return engineStats;
    }

    boolean unprotected() {
        return unprotected;
    }

    void publish(Loop l, BackupLink link) {
        double up = (System.nanoTime() - startNanos) / 1e9;
        CaptureEngine engine = l.engine();
        // taken here, on the epoch loop, where the engine updates them: a scrape's thread reads the copy
        java.util.Map<String, Object> stats = engine == null ? null : engine.stats();
        if (stats != null) engineStats = stats;
        unprotected = l.unprotected();
        long acked = link == null ? 0 : link.epochsAcked();
        file.publish(Json.object().put("role", "primary").put("pid", ProcessHandle.current().pid())
                .put("state", l.state().name().toLowerCase()).put("servicePid", cfg.pid()).put("generation", cfg.generation())
                .put("leaseHeld", l.lease() == null ? null : l.lease().isHeld())
                .put("engine", engine == null ? null : engine.name()).put("tracker", engine == null ? null : engine.tracker())
                .put("engineStats", stats)
                .put("backup", cfg.backup().getHostString() + ":" + cfg.backup().getPort())
                .put("epochIntervalMs", cfg.epoch().toMillis()).put("epochEnds", schedule.summary()).put("lastEpoch", l.lastEpoch())
                .put("lastAckedEpoch", link == null ? -1 : link.lastAcked())
                .put("epochsAcked", acked).put("inFlight", link == null ? 0 : link.inFlight()).put("maxInFlight", cfg.maxInFlight())
                .put("epochsPerSecond", Math.round(acked / Math.max(up, 1e-3) * 100) / 100.0)
                .put("pauseMs", pauseMs.summary()).put("ackMs", link == null ? null : link.ackMs().summary())
                .put("cycleMs", Json.object().put("capture", captureMs.summary()).put("ship", shipMs.summary()).put("write", writeMs.summary())
                        .put("window", windowMs.summary()))
                .put("pipeline", link == null ? null : link.shipStage().put("capturesWhileShipping", capturesWhileShipping))
                .put("capturedBytes", capturedBytes.summary()).put("shippedRawBytes", rawBytes.summary())
                .put("shippedWireBytes", wireBytes.summary()).put("totalShippedRawBytes", totalRaw).put("totalShippedFileBytes", totalFileBytes)
                .put("totalShippedWireBytes", totalWire).put("rejectedInARow", link == null ? 0 : link.nackStreak())
                .put("onBackupLoss", cfg.continueOnBackupLoss() ? "continue" : "stall").put("unprotected", l.unprotected())
                .put("unprotectedEpisodes", l.unprotectedEpisodes()).put("lastRejection", link == null ? "" : link.lastNack())
                .put("dataDirs", l.disk() == null ? null : l.disk().status())
                .put("output", l.hold() != null ? "packets" : cfg.proxyControl() != null ? "proxy" : "none")
                .put("packetHold", l.hold() == null ? null : l.hold().status())
                .put("updatedAt", System.currentTimeMillis()));
    }
}
