package io.checkpointd.primary;

import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Captures that killed primaries left in the work root. */
final class StaleCaptures {
    private static final Logger log = LoggerFactory.getLogger(StaleCaptures.class);

    private StaleCaptures() {
    }

    /**
     * Captures left in the (tmpfs) work root by primaries that were killed: those of a service that is gone, and
     * older generations of our own service. They hold RAM until removed, and nothing else removes them.
     */
    static void remove(Path root, int pid, long generation) throws IOException {
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
}
