package io.checkpointd.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --run-dir}: where daemons publish their status and where {@code status} reads it (a picocli mixin). */
final class RunDirOption {
    @Option(names = "--run-dir", paramLabel = "DIR",
            description = "where daemons publish status (default: $CHECKPOINTD_RUN_DIR or /run/checkpointd)")
    Path dir;

    /** The explicit directory, or null for the default. */
    Path path() {
        return dir;
    }
}
