package io.checkpointd.restore.failover;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a restored service's stdout and stderr go when, on the old host, they were a pipe or a unix socket (a log
 * pipe, journald): that stream's other end did not move with the process, so the backup hands in its own.
 */
public sealed interface ServiceOutput {
    /** journald's stream socket, when systemd runs this host. */
    Path JOURNAL_SOCKET = Path.of("/run/systemd/journal/stdout");

    /** Appended to a file (created 0640). */
    record ToFile(Path path) implements ServiceOutput {
        public ToFile {
            Objects.requireNonNull(path, "path");
        }
    }

    /** A stream to journald under {@code identifier}, as systemd's {@code StandardOutput=journal} would open. */
    record ToJournal(Path socket, String identifier) implements ServiceOutput {
        public ToJournal {
            Objects.requireNonNull(socket, "socket");
            if (identifier == null || identifier.isBlank() || identifier.contains("\n")) throw new IllegalArgumentException("bad journal identifier");
        }
    }

    /** The journal when this host runs journald, else {@code service-output.log} in {@code dir}. */
    static ServiceOutput defaultFor(Path dir) {
        return Files.exists(JOURNAL_SOCKET) ? new ToJournal(JOURNAL_SOCKET, "checkpointd-restored") : new ToFile(dir.resolve("service-output.log"));
    }

    /** {@code journal} or a file path, as given on the command line. */
    static ServiceOutput parse(String s, Path dir) {
        if (s == null) return defaultFor(dir);
        if (s.equals("journal")) return new ToJournal(JOURNAL_SOCKET, "checkpointd-restored");
        return new ToFile(Path.of(s));
    }
}
