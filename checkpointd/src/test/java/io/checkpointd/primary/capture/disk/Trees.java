package io.checkpointd.primary.capture.disk;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.Syscalls;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Test helper, also of the tests module: asserts two directory trees are identical (names, kinds, modes, owners, link targets, bytes). */
public final class Trees {
    private Trees() {
    }

    public static void assertSame(Path a, Path b) throws IOException {
        Map<String, String> da = describe(a), db = describe(b);
        assertThat(db).isEqualTo(da);
        for (var en : da.entrySet()) {
            if (en.getValue().startsWith("file")) assertSameFile(a.resolve(en.getKey()), b.resolve(en.getKey()));
        }
    }

    private static Map<String, String> describe(Path root) throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                if (p.equals(root)) continue;
                int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
                String d = Files.isSymbolicLink(p) ? "link->" + Files.readSymbolicLink(p)
                        : Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "dir " + Integer.toOctalString(mode)
                        : "file " + Integer.toOctalString(mode) + " " + Files.size(p);
                int uid = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                int gid = (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
                m.put(root.relativize(p).toString(), d + " " + uid + ":" + gid);
            }
        }
        return m;
    }

    /** Byte comparison that reads only where either file has data, so multi-GB sparse files compare cheaply. */
    static void assertSameFile(Path a, Path b) throws IOException {
        long size = Files.size(a);
        assertThat(Files.size(b)).isEqualTo(size);
        List<long[]> ranges = new ArrayList<>(dataRanges(a, size));
        ranges.addAll(dataRanges(b, size));
        try (FileChannel ca = FileChannel.open(a); FileChannel cb = FileChannel.open(b)) {
            for (long[] r : ranges) {
                for (long off = r[0]; off < r[1]; off += 1 << 20) {
                    int n = (int) Math.min(1 << 20, r[1] - off);
                    ByteBuffer ba = ByteBuffer.allocate(n), bb = ByteBuffer.allocate(n);
                    while (ba.hasRemaining() && ca.read(ba, off + ba.position()) > 0) { }
                    while (bb.hasRemaining() && cb.read(bb, off + bb.position()) > 0) { }
                    assertThat(bb.array()).as("%s bytes at %d", b, off).isEqualTo(ba.array());
                }
            }
        }
    }

    static List<long[]> dataRanges(Path p, long size) throws IOException {
        List<long[]> out = new ArrayList<>();
        try (FileDescriptor fd = Syscalls.open(p.toString(), Syscalls.O_RDONLY)) {
            long pos = 0;
            while (pos < size) {
                long d = Syscalls.seek(fd, pos, Syscalls.SEEK_DATA);
                if (d < 0 || d >= size) break;
                long h = Syscalls.seek(fd, d, Syscalls.SEEK_HOLE);
                long end = h < 0 ? size : Math.min(h, size);
                out.add(new long[] {d, end});
                pos = end;
            }
        }
        return out;
    }
}
