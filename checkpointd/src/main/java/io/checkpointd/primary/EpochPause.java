package io.checkpointd.primary;

import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.primary.capture.disk.DataDirs;
import io.checkpointd.primary.engine.CaptureEngine;
import io.checkpointd.primary.release.OutputGate;
import io.checkpointd.primary.release.packets.PacketHold;
import io.checkpointd.protocol.control.ProxyControlClient;
import java.io.IOException;
import java.time.Duration;

/**
 * What an engine needs of the primary for epoch {@code n}'s pause: freeze the process, seal its output (at the proxy
 * and in the packet hold) and capture the data dirs at the instant of the memory.
 */
final class EpochPause implements CaptureEngine.Pause {
    private final long n;
    private final Freezer freezer;
    private final OutputGate gate;
    private final PacketHold hold;
    private final EpochSchedule schedule;
    private final DataDirs disk;
    private final int pid;
    private boolean sealed;
    /** The SEAL sent by {@link #sealStart()}, awaited by {@link #sealAwait()}. */
    private ProxyControlClient.Sealing sealing;

    /** {@code hold} and {@code disk} may be null (no packet hold, no data dirs). */
    EpochPause(long n, Freezer freezer, OutputGate gate, PacketHold hold, EpochSchedule schedule, DataDirs disk, int pid) {
        this.n = n;
        this.freezer = freezer;
        this.gate = gate;
        this.hold = hold;
        this.schedule = schedule;
        this.disk = disk;
        this.pid = pid;
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
        sealStart();
        sealAwait();
    }

    @Override
    public void sealStart() throws IOException {
        if (sealed) throw new IllegalStateException("epoch " + n + " sealed twice");
        sealed = true;
        try {
            sealing = gate.sealStart(n);
            // the process is stopped: every packet it sent so far is in the queue, and belongs to this epoch
            if (hold != null) hold.seal(n);
        } catch (IOException e) {
            throw new FreezeException("sealing output failed: " + e.getMessage());
        }
    }

    @Override
    public void sealAwait() throws IOException {
        try {
            gate.sealAwait(sealing);
            schedule.sealed(n);
        } catch (IOException e) {
            throw new FreezeException("sealing output at the proxy failed: " + e.getMessage());
        }
    }

    @Override
    public void atCapture() throws IOException {
        // the data dirs are captured at the instant the memory is (threads stopped, or frozen after a
        // CRIU dump)
        if (disk != null) disk.captureFrozen();
        PrimaryFaults.reached(PrimaryFaults.KillPoint.PAUSE, n, pid);
    }
}
