package io.checkpointd.restore.store;

import io.checkpointd.protocol.replication.EpochRecord;
import io.checkpointd.protocol.replication.EpochRecord.DirRecord;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Replays one {@code DIR_*} record on a directory holding the previous state: the store's fold and materialize,
 * and the primary's tests (through {@code DirApplier}). A record that changes a file's bytes or mode first gives
 * a file that has other hard links a private copy, so a replica folded by linking the base's files never writes
 * the base. Paths were checked by the decoder (relative, no {@code ..}) and, in the store, against the tree's
 * model (no path through a symlink).
 */
public final class DirReplay {
    private DirReplay() {
    }

    /** Applies {@code r} (not a {@link EpochRecord.DirRoot}) under {@code root}. */
    public static void apply(Path root, DirRecord r) throws IOException {
        Path p = root.resolve(r.path());
        if (r instanceof EpochRecord.DirMkdir d) {
            Files.createDirectory(p);
            chmod(p, d.mode());
        } else if (r instanceof EpochRecord.DirCreate c) {
            Files.createFile(p);
            chmod(p, c.mode());
        } else if (r instanceof EpochRecord.DirSymlink l) {
            Files.deleteIfExists(p);
            Files.createSymbolicLink(p, Path.of(l.target()));
        } else if (r instanceof EpochRecord.DirRename mv) {
            Files.move(root.resolve(mv.from()), p, StandardCopyOption.ATOMIC_MOVE);
        } else if (r instanceof EpochRecord.DirDelete) {
            Files.delete(p);
        } else if (r instanceof EpochRecord.DirResize rs) {
            makePrivate(p);
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(rs.size()); // ftruncate: an extension is a hole, as on the primary
            }
        } else if (r instanceof EpochRecord.DirMode m) {
            if (Files.isSymbolicLink(p)) return; // a link's own mode cannot be changed on Linux
            makePrivate(p);
            chmod(p, m.mode());
        } else if (r instanceof EpochRecord.DirOwner o) {
            makePrivate(p);
            int mode = Files.isSymbolicLink(p) ? -1 : mode(p);
            chown(p, o.uid(), o.gid());
            if (mode >= 0) chmod(p, mode); // chown clears setuid/setgid; the primary's mode follows as its own record anyway
        } else if (r instanceof EpochRecord.DirBlocks b) {
            makePrivate(p);
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                ByteBuffer bb = ByteBuffer.wrap(b.data());
                while (bb.hasRemaining()) ch.write(bb, b.offset() + bb.position());
            }
        } else {
            throw new IOException("cannot replay " + r.getClass().getSimpleName() + " on " + root);
        }
    }

    /** A regular file with other links (shared with a committed base) is replaced by a copy of its own. */
    /** {@code lchown}: a link's own owner, never its target's. */
    static void chown(Path p, int uid, int gid) throws IOException {
        Files.setAttribute(p, "unix:uid", uid, LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    }

    /** Gives {@code to} the owner of {@code from} (links: their own), when it differs. */
    static void copyOwner(Path from, Path to) throws IOException {
        int uid = (Integer) Files.getAttribute(from, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int gid = (Integer) Files.getAttribute(from, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        if (uid != (Integer) Files.getAttribute(to, "unix:uid", LinkOption.NOFOLLOW_LINKS)
                || gid != (Integer) Files.getAttribute(to, "unix:gid", LinkOption.NOFOLLOW_LINKS)) {
            chown(to, uid, gid);
        }
    }

    private static void makePrivate(Path p) throws IOException {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) return;
        int links = (Integer) Files.getAttribute(p, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
        if (links <= 1) return;
        Path tmp = p.resolveSibling(p.getFileName() + ".checkpointd-cow");
        Files.deleteIfExists(tmp);
        SparseCopy.copy(p, tmp);
        copyOwner(p, tmp);
        chmod(tmp, mode(p));
        Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** chmod(2) with all twelve bits (setuid, setgid, sticky too). */
    static void chmod(Path p, int mode) throws IOException {
        Files.setAttribute(p, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
    }
}
