package io.checkpointd.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** How a demo service tells its starter which port it bound: a file holding the number, written when ready. */
public final class PortFile {
    private PortFile() {
    }

    /**
     * Writes {@code port} to {@code file} atomically (temp file in the same directory, then rename) so a reader never
     * sees a partial number. Both files are closed on return: CRIU refuses to restore a process holding a file open
     * whose contents changed.
     */
    public static void write(Path file, int port) throws IOException {
        Path abs = file.toAbsolutePath();
        Path tmp = Files.createTempFile(abs.getParent(), abs.getFileName() + ".", ".tmp");
        try {
            Files.writeString(tmp, port + "\n"); // opens, writes, closes
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
