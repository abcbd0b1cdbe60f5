package io.checkpointd.primary.capture.disk;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;

/**
 * What the tracker remembers of one entry between epochs. {@code hashes} (regular files only) holds one
 * 64-bit hash per 4 KiB block, {@link BlockHasher#HOLE} for a block that was a hole.
 */
final class Entry {
    enum Kind { FILE, DIR, LINK }

    final Kind kind;
    final long ino;
    final int mode;
    final int uid, gid;
    final long size;
    final FileTime mtime, ctime;
    final String target;
    long[] hashes = new long[0];

    Entry(Kind kind, long ino, int mode, int uid, int gid, long size, FileTime mtime, FileTime ctime, String target) {
        this.kind = kind;
        this.ino = ino;
        this.mode = mode;
        this.uid = uid;
        this.gid = gid;
        this.size = size;
        this.mtime = mtime;
        this.ctime = ctime;
        this.target = target;
    }

    /** lstat of {@code p}; null if it does not exist or is neither file, directory nor link (fifo, socket). */
    static Entry stat(Path p) throws IOException {
        Map<String, Object> a;
        try {
            a = Files.readAttributes(p, "unix:ino,mode,uid,gid,size,lastModifiedTime,ctime,isDirectory,isSymbolicLink,isRegularFile",
                    LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        } catch (FileSystemException e) {
            if (underNonDirectory(p)) return null;
            throw e;
        }
        Kind k = (Boolean) a.get("isRegularFile") ? Kind.FILE : (Boolean) a.get("isDirectory") ? Kind.DIR
                : (Boolean) a.get("isSymbolicLink") ? Kind.LINK : null;
        if (k == null) return null;
        String target = null;
        if (k == Kind.LINK) {
            try {
                target = Files.readSymbolicLink(p).toString();
            } catch (NoSuchFileException e) {
                return null;
            } catch (FileSystemException e) {
                if (underNonDirectory(p)) return null;
                throw e;
            }
        }
        return new Entry(k, (Long) a.get("ino"), (Integer) a.get("mode") & 07777, (Integer) a.get("uid"), (Integer) a.get("gid"), (Long) a.get("size"),
                (FileTime) a.get("lastModifiedTime"), (FileTime) a.get("ctime"), target);
    }

    /**
     * Whether {@code p}'s parent is no longer a directory (ENOTDIR: a writer replaced it by a file or removed it while
     * the directory was walked): then {@code p} does not exist either.
     */
    private static boolean underNonDirectory(Path p) {
        Path parent = p.getParent();
        return parent != null && !Files.isDirectory(parent);
    }

    /** Owned by someone other than root, who creates every entry on the backup. */
    boolean ownedByOther() {
        return uid != 0 || gid != 0;
    }

    /** Same inode, size and times: with multigrain timestamps (Linux 6.13+) no write can hide behind these. */
    boolean unchangedSince(Entry old) {
        return old.ino == ino && old.kind == kind && old.size == size && old.mode == mode && old.uid == uid && old.gid == gid
                && old.mtime.equals(mtime) && old.ctime.equals(ctime);
    }
}
