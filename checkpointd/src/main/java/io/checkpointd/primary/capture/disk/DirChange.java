package io.checkpointd.primary.capture.disk;

/**
 * One change to a data directory, as {@link DataDirTracker} reports it and {@link DirApplier} replays it. Paths
 * are relative to the data directory, {@code "/"}-separated. The records of one epoch are ordered: replayed in
 * order on a copy of the previous epoch's directory they yield this epoch's directory (a parent exists before
 * its children, a rename's target is free, a directory is empty when deleted).
 */
public sealed interface DirChange {
    /** The entry the change is about (for a rename, its new path). */
    String path();

    /** A new directory with permission bits {@code mode}. */
    record MakeDir(String path, int mode) implements DirChange {
    }

    /** A new empty regular file; its size and data follow as {@link Resize} and {@link Blocks}. */
    record CreateFile(String path, int mode) implements DirChange {
    }

    /** A symbolic link to {@code target}, replacing a link already at {@code path}. */
    record Symlink(String path, String target) implements DirChange {
    }

    /** The entry at {@code from} (and its subtree) now lives at {@code path}, which is free. Same inode. */
    record Rename(String from, String path) implements DirChange {
    }

    /** The file, link or (by now empty) directory at {@code path} is gone. */
    record Delete(String path) implements DirChange {
    }

    /** The file's new size: a truncation cuts, an extension adds a hole (zeros). */
    record Resize(String path, long size) implements DirChange {
    }

    /** New permission bits (including setuid/setgid/sticky). */
    record Mode(String path, int mode) implements DirChange {
    }

    /** New owner (of a link itself). */
    record Owner(String path, int uid, int gid) implements DirChange {
    }

    /** The file's bytes {@code [offset, offset+data.length)}: a run of changed 4 KiB blocks. */
    record Blocks(String path, long offset, byte[] data) implements DirChange {
        @Override
        public String toString() {
            return "Blocks[" + path + " @" + offset + " +" + data.length + "]";
        }
    }
}
