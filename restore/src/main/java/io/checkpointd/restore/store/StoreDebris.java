package io.checkpointd.restore.store;

import io.checkpointd.protocol.image.ImageDirs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
        delete(list(dir, state, openTmp));
        removeTop(dir, state);
    }

    /**
     * The log files and base dirs {@code state} does not name, except {@code openTmp}: what a compaction made
     * garbage. Their names never come back (epochs and bases are named by increasing epochs), so they may be
     * deleted after the store lock is released.
     */
    static List<Path> list(Path dir, StoreState state, Path openTmp) throws IOException {
        List<Path> out = new ArrayList<>();
        Set<String> keepLogs = new HashSet<>();
        for (long e : state.log()) keepLogs.add("epoch-" + e + ".d");
        try (Stream<Path> s = Files.list(dir.resolve("log"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (!keepLogs.contains(p.getFileName().toString()) && !p.equals(openTmp)) out.add(p);
            }
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (n.startsWith("base-") && !n.endsWith(".tmp") && !n.equals(state.base())) out.add(p); // not a compaction's
            }
        }
        return out;
    }

    /** Deletes what {@link #list} returned. */
    static void delete(List<Path> garbage) throws IOException {
        for (Path p : garbage) ImageDirs.deleteTree(p);
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
