package io.checkpointd.primary.engine;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.criu.TcpMode;
import io.checkpointd.linux.freezer.Freezer;
import java.io.IOException;
import java.nio.file.Path;

/** The one way checkpointd runs {@code criu dump}: leave running, under our freezer cgroup. */
public final class Dumps {
    private Dumps() {
    }

    /**
     * Dumps the frozen process into {@code dir}. CRIU finds the cgroup frozen and leaves it frozen (it restores the
     * freezer state it found), so the caller decides when the process runs again.
     */
    public static void dump(Criu criu, int pid, Path dir, Freezer freezer) throws IOException {
        criu.dump(DumpOptions.builder(pid, dir).leaveRunning(true).tcpMode(TcpMode.CLOSE).skipInFlight(true)
                .freezeCgroup(freezer.cgroup().toString()).fileLocks(true).logFile("dump.log").build());
    }
}
