package io.checkpointd.restore.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Assertions on what a store gives back. */
final class StoreAssertions {
    private StoreAssertions() {
    }

    /**
     * The store's committed image, materialized into a scratch directory beside {@code expected} (removed again),
     * holds exactly the files of {@code expected}, byte for byte.
     */
    static void assertSameImage(ImageStore store, Path expected, String what) throws IOException {
        Path out = expected.resolveSibling(expected.getFileName() + "-materialized");
        ImageDirs.deleteTree(out);
        store.materialize(out);
        List<String> names;
        try (Stream<Path> s = Files.list(expected)) {
            names = s.map(p -> p.getFileName().toString()).sorted().toList();
        }
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).as(what).isEqualTo(names);
        }
        for (String n : names) {
            assertThat(Files.mismatch(expected.resolve(n), out.resolve(n))).as(what + ": " + n).isEqualTo(-1L);
        }
        ImageDirs.deleteTree(out);
    }
}
