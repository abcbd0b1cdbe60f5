package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

/** What a crash, a full sync or a compaction leaves in the store that its state no longer names, and its removal. */
final class StoreDebris {
    private StoreDebris() {
    }

    /**
     * Removes base dirs, log files and temp files that {@code state} does not name, except {@code openTmp} (the epoch
     * being received, or null). Log files of applied epochs not yet durable are named by the in-memory state.
     */
    static void remove(Path dir, StoreState state, Path openTmp) throws IOException {
        Set<String> keepLogs = new HashSet<>();
        for (long e : state.log()) keepLogs.add("epoch-" + e + ".d");
        try (Stream<Path> s = Files.list(dir.resolve("log"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (!keepLogs.contains(p.getFileName().toString()) && !p.equals(openTmp)) Files.deleteIfExists(p);
            }
        }
        removeTop(dir, state);
    }

    /** Of {@link #remove}, the store's top directory: bases {@code state} does not name, temp files and directories. */
    static void removeTop(Path dir, StoreState state) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if ((n.startsWith("base-") && !n.equals(state.base())) || n.endsWith(".tmp")) ImageDirs.deleteTree(p);
            }
        }
    }
}
