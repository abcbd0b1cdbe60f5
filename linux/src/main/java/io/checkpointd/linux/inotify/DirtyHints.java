package io.checkpointd.linux.inotify;

import java.util.Set;

/**
 * What may have changed under a watched root since the last drain, as paths relative to the root
 * ({@code "/"}-separated, {@code ""} is the root itself). Hints over-approximate: a consumer stats each one.
 *
 * @param all   the event queue overflowed (or nothing is known yet): anything may have changed
 * @param dirs  directories whose entries changed (create, delete, rename in or out): list them again
 * @param files entries whose content or attributes may have changed: stat (and for files, hash) them
 * @param trees directories that appeared (created or moved in): walk their whole subtree, because entries
 *              made in them before their watch was added produced no event
 */
public record DirtyHints(boolean all, Set<String> dirs, Set<String> files, Set<String> trees) {
    public DirtyHints {
        dirs = Set.copyOf(dirs);
        files = Set.copyOf(files);
        trees = Set.copyOf(trees);
    }

    /** Everything is dirty: the first epoch and the overflow fallback. */
    public static DirtyHints everything() {
        return new DirtyHints(true, Set.of(), Set.of(), Set.of());
    }

    public boolean isEmpty() {
        return !all && dirs.isEmpty() && files.isEmpty() && trees.isEmpty();
    }
}
