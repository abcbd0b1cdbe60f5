package io.checkpointd.protocol.status;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Each daemon publishes its status as one JSON object in the run directory ({@code <role>-<pid>.json}), replaced
 * atomically so a reader never sees half a file; {@code checkpointd status} reads them. The fields are
 * documented in docs/operations.md.
 */
public final class StatusFile {
    public static final String ENV_RUN_DIR = "CHECKPOINTD_RUN_DIR";
    public static final Path DEFAULT_RUN_DIR = Path.of("/run/checkpointd");

    private final Path file;

    public StatusFile(Path runDir, String role) throws IOException {
        Files.createDirectories(runDir);
        this.file = runDir.resolve(role + "-" + ProcessHandle.current().pid() + ".json");
    }

    /** The run directory: {@code explicit} if given, else $CHECKPOINTD_RUN_DIR, else /run/checkpointd. */
    public static Path runDir(Path explicit) {
        if (explicit != null) return explicit;
        String env = System.getenv(ENV_RUN_DIR);
        return env != null && !env.isBlank() ? Path.of(env) : DEFAULT_RUN_DIR;
    }

    public Path path() {
        return file;
    }

    public synchronized void publish(Json status) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, status.toString() + "\n", StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            // status is for humans and monitoring; failing to publish it must never stop protection
        }
    }
}
