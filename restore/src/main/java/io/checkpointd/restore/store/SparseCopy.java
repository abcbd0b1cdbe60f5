package io.checkpointd.restore.store;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.Syscalls;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Copies a regular file's data extents only ({@code SEEK_DATA}/{@code SEEK_HOLE}): holes stay holes, and cost nothing. */
final class SparseCopy {
    private SparseCopy() {
    }

    /** Copies {@code src} to {@code dst} (created; must not exist), same size, holes preserved. */
    static void copy(Path src, Path dst) throws IOException {
        try (FileDescriptor fd = Syscalls.open(src.toString(), Syscalls.O_RDONLY | Syscalls.O_CLOEXEC);
             FileChannel in = FileChannel.open(src, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(dst, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            long size = in.size();
            long pos = 0;
            while (pos < size) {
                long data = Syscalls.seek(fd, pos, Syscalls.SEEK_DATA);
                if (data < 0 || data >= size) break;
                long hole = Syscalls.seek(fd, data, Syscalls.SEEK_HOLE);
                long end = hole < 0 ? size : Math.min(size, hole);
                long done = data;
                while (done < end) {
                    long n = in.transferTo(done, end - done, out.position(done));
                    if (n <= 0) throw new IOException(src + " shrank while being copied");
                    done += n;
                }
                pos = end;
            }
        }
        try (RandomAccessFile f = new RandomAccessFile(dst.toFile(), "rw")) {
            f.setLength(java.nio.file.Files.size(src)); // a trailing hole
        }
    }
}
