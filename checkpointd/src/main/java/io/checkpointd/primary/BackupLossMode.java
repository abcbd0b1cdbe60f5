package io.checkpointd.primary;

import io.checkpointd.primary.release.OutputGate;
import io.checkpointd.primary.release.packets.PacketHold;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --on-backup-loss continue}: while the backup is lost the proxy, or the packet hold, releases output at once
 * (unprotected, said loudly); when it is back, output is held again before the next freeze, so everything from
 * there on is protected.
 */
final class BackupLossMode {
    private static final Logger log = LoggerFactory.getLogger(BackupLossMode.class);

    private final PrimaryConfig cfg;
    private final OutputGate gate;
    private final Supplier<PacketHold> hold;
    private final PrintWriter console;
    private volatile boolean unprotected;
    private volatile long episodes;

    BackupLossMode(PrimaryConfig cfg, OutputGate gate, Supplier<PacketHold> hold, PrintWriter console) {
        this.cfg = cfg;
        this.gate = gate;
        this.hold = hold;
        this.console = console;
    }

    boolean unprotected() {
        return unprotected;
    }

    long episodes() {
        return episodes;
    }

    /** The backup is lost: let the proxy (or the packet hold) release output at once, and say so loudly. */
    void runUnprotected() {
        if (unprotected) return;
        try {
            gate.passthrough();
        } catch (IOException e) {
            log.error("backup lost, and the proxy refused passthrough ({}): output stays held", e.getMessage());
            return;
        }
        PacketHold h = hold.get();
        if (h != null) h.passThrough(); // what it held goes out now, and what the process sends from here on
        unprotected = true;
        episodes++;
        String msg = "backup " + cfg.backup() + " lost: pid " + cfg.pid() + " runs UNPROTECTED (--on-backup-loss continue): "
                + "its output is released at once and a failure now would lose it; protection resumes when the backup is back";
        log.error(msg);
        console.println("checkpointd: WARNING: " + msg);
        console.flush();
    }

    /** The backup is back: hold output again before the next freeze, so everything from here on is protected. */
    void protectAgain() {
        try {
            gate.hold();
            PacketHold h = hold.get();
            if (h != null) h.holdAgain();
            unprotected = false;
            log.warn("backup {} is back: pid {} is protected again (full sync first)", cfg.backup(), cfg.pid());
            console.println("checkpointd: backup is back: protection resumes with a full sync");
            console.flush();
        } catch (IOException e) {
            log.error("the proxy refused to hold output again ({}): still unprotected", e.getMessage());
        }
    }
}
