package io.checkpointd.protocol.image;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Image directories (captures, store bases, restore dirs) are created and removed whole. */
public final class ImageDirs {
    /** Where a primary captures unless told otherwise: tmpfs keeps captures off the disk. */
    public static final java.nio.file.Path DEFAULT_CAPTURE_ROOT = java.nio.file.Path.of("/dev/shm/checkpointd");

    private ImageDirs() {
    }

    /** Removes {@code dir} and everything below it; nothing if it does not exist. */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
        }
    }
}
