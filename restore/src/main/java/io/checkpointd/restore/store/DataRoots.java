package io.checkpointd.restore.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the backup may restore data directories ({@code backup --data-root}): a data dir the primary names is
 * accepted only if it is one of these roots or below one, after resolving symbolic links in the part of it that
 * exists. The backup's operator decides this, never the peer: with no root, every data dir is refused. Immutable.
 */
public final class DataRoots {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(DataRoots.class);
    /** No root: every data dir is refused (the default). */
    public static final DataRoots NONE = new DataRoots(List.of());

    /** The roots as given, absolute and normalized. */
    private final List<Path> roots;

    private DataRoots(List<Path> roots) {
        this.roots = roots;
    }

    /**
     * The roots {@code dirs}: each must be absolute and must not contain {@code ..}.
     *
     * @throws IllegalArgumentException if one is not
     */
    public static DataRoots of(List<Path> dirs) {
        List<Path> out = new ArrayList<>();
        for (Path d : dirs) {
            if (!d.isAbsolute() || hasDotDot(d)) throw new IllegalArgumentException("data root " + d + " must be an absolute path without ..");
            out.add(d.normalize());
        }
        return new DataRoots(List.copyOf(out));
    }

    public boolean isEmpty() {
        return roots.isEmpty();
    }

    public List<Path> roots() {
        return roots;
    }

    /**
     * Checks that data dir {@code dir} (as named by the primary) may be restored: an absolute path without
     * {@code .} or {@code ..} parts that, with symbolic links resolved where it exists, is equal to or below a root
     * (itself resolved where it exists).
     *
     * @throws IOException naming the dir and why it is refused
     */
    public void check(String dir) throws IOException {
        if (roots.isEmpty()) {
            throw new IOException("data dir " + dir + " refused: this backup has no --data-root, so it restores no data dirs");
        }
        Path p;
        try {
            p = Path.of(dir);
        } catch (InvalidPathException e) {
            throw new IOException("data dir " + dir + " refused: not a path");
        }
        if (!p.isAbsolute() || hasDotDot(p) || !p.normalize().equals(p) || dir.contains("/./") || dir.endsWith("/.")) {
            throw new IOException("data dir " + dir + " refused: not an absolute, normalized path");
        }
        Path real;
        try {
            real = resolveExisting(p);
        } catch (IOException e) {
            throw new IOException("data dir " + dir + " refused: " + e.getMessage(), e);
        }
        for (Path root : roots) {
            if (real.startsWith(resolveExisting(root))) return;
        }
        throw new IOException("data dir " + dir + (real.equals(p) ? "" : " (really " + real + ")")
                + " refused: not under a --data-root " + roots);
    }

    /** The check for one epoch's records: each root they name is checked once. */
    EpochCheck forEpoch(long epoch) {
        return new EpochCheck(epoch);
    }

    /** {@link #check} for the records of one epoch, remembering the roots that passed. */
    final class EpochCheck {
        private final long epoch;
        private final java.util.Set<String> passed = new java.util.HashSet<>();

        private EpochCheck(long epoch) {
            this.epoch = epoch;
        }

        /** @throws EpochRejectedException if {@code root} may not be restored: the epoch is refused */
        void check(String root) throws EpochRejectedException {
            if (passed.contains(root)) return;
            try {
                DataRoots.this.check(root);
            } catch (IOException e) {
                log.warn("epoch {} rejected: {}", epoch, e.getMessage());
                throw new EpochRejectedException("epoch " + epoch + ": " + e.getMessage());
            }
            passed.add(root);
        }
    }

    /** {@code p} with its longest existing prefix replaced by that prefix's real path (links resolved). */
    static Path resolveExisting(Path p) throws IOException {
        Path existing = p;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) existing = existing.getParent();
        if (existing == null) return p;
        Path real;
        try {
            real = existing.toRealPath(); // a dangling link fails here: where it leads cannot be checked
        } catch (IOException e) {
            throw new IOException("cannot resolve " + existing + ": " + e, e);
        }
        return real.resolve(existing.relativize(p)).normalize();
    }

    private static boolean hasDotDot(Path p) {
        for (Path part : p) {
            if (part.toString().equals("..")) return true;
        }
        return false;
    }

    @Override
    public String toString() {
        return roots.toString();
    }
}
