package io.checkpointd.primary.capture.disk;

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
 * Replays {@link DirChange}s on a directory that holds the previous epoch's state: the backup's materialize
 * step at restore, and the tests' proof that what the tracker reports is enough. Paths are checked to stay
 * inside the directory, since on the backup they arrive from the network.
 */
public final class DirApplier {
    private DirApplier() {
    }

    public static void apply(Path root, Iterable<? extends DirChange> changes) throws IOException {
        for (DirChange c : changes) apply(root, c);
    }

    public static void apply(Path root, DirChange c) throws IOException {
        Path p = inside(root, c.path());
        // Java 17: no pattern switch; the order of tests does not matter (the records are disjoint).
        if (c instanceof DirChange.MakeDir d) {
            Files.createDirectory(p);
            chmod(p, d.mode());
        } else if (c instanceof DirChange.CreateFile f) {
            Files.createFile(p);
            chmod(p, f.mode());
        } else if (c instanceof DirChange.Symlink l) {
            Files.deleteIfExists(p);
            Files.createSymbolicLink(p, Path.of(l.target()));
        } else if (c instanceof DirChange.Rename r) {
            Files.move(inside(root, r.from()), p, StandardCopyOption.ATOMIC_MOVE);
        } else if (c instanceof DirChange.Delete) {
            Files.delete(p);
        } else if (c instanceof DirChange.Resize r) {
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                f.setLength(r.size()); // ftruncate: an extension is a hole, as on the primary
            }
        } else if (c instanceof DirChange.Mode m) {
            chmod(p, m.mode());
        } else if (c instanceof DirChange.Blocks b) {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                ByteBuffer bb = ByteBuffer.wrap(b.data());
                while (bb.hasRemaining()) ch.write(bb, b.offset() + bb.position());
            }
        } else {
            throw new IllegalArgumentException("unknown change " + c);
        }
    }

    /** chmod(2) with all twelve bits (setuid, setgid, sticky too), which PosixFilePermission cannot express. */
    private static void chmod(Path p, int mode) throws IOException {
        Files.setAttribute(p, "unix:mode", mode, LinkOption.NOFOLLOW_LINKS);
    }

    private static Path inside(Path root, String rel) throws IOException {
        if (rel.isEmpty() || rel.startsWith("/")) throw new IOException("bad data-dir path: '" + rel + "'");
        for (String part : rel.split("/", -1)) {
            if (part.isEmpty() || part.equals(".") || part.equals("..")) throw new IOException("bad data-dir path: '" + rel + "'");
        }
        return root.resolve(rel);
    }
}
