package io.checkpointd.primary.engine;

import io.checkpointd.linux.criu.Criu;
import io.checkpointd.linux.criu.DumpOptions;
import io.checkpointd.linux.criu.TcpMode;
import io.checkpointd.linux.freezer.Freezer;
import io.checkpointd.protocol.image.HostFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The one way checkpointd runs {@code criu dump}: leave running, under our freezer cgroup, with the process's
 * host-bound files ({@link HostFiles}) beside the images.
 */
public final class Dumps {
    private Dumps() {
    }

    /**
     * Dumps the frozen process into {@code dir}. CRIU finds the cgroup frozen and leaves it frozen (it restores the
     * freezer state it found), so the caller decides when the process runs again.
     */
    public static void dump(Criu criu, int pid, Path dir, Freezer freezer) throws IOException {
        dump(criu, pid, dir, freezer, null);
    }

    /** Same, leaving out the pages of the ranges {@code skipPagesIn} lists (null: none; see {@code FirstPreCopy}). */
    public static void dump(Criu criu, int pid, Path dir, Freezer freezer, Path skipPagesIn) throws IOException {
        HostFiles host = HostFilesCapture.read(pid);
        // connections with their repair state (tcp-stream-*.img), as the engine's own epochs write them; no CRIU
        // network lock: the process is frozen, and holding its packets is the output commit's business
        DumpOptions.Builder b = DumpOptions.builder(pid, dir).leaveRunning(true).tcpMode(TcpMode.ESTABLISHED).networkLock(false).skipInFlight(true)
                .freezeCgroup(freezer.cgroup().toString()).fileLocks(true).logFile("dump.log");
        // stdio on journald's socket: its peer is outside the dump; the backup hands in a stream of its own
        for (HostFiles.Stdio s : host.stdio()) if (s.isSocket()) b.externalUnixSocket(s.inode());
        if (skipPagesIn != null) b.skipPagesIn(skipPagesIn);
        criu.dump(b.build());
        Files.write(dir.resolve(HostFiles.NAME), host.encode());
    }
}
