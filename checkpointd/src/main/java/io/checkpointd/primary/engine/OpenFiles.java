package io.checkpointd.primary.engine;

import io.checkpointd.linux.proc.ProcFs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Position and size of every regular file the process holds open, read each epoch with the process stopped. A
 * service appending to a file changes both every epoch; CRIU restores the position from the image and refuses a
 * file whose size differs from the image's, so both are patched into the epoch's image ({@code files.img}).
 */
final class OpenFiles {
    /** One open regular file. */
    record Open(long pos, long size) {
    }

    private OpenFiles() {
    }

    /** fd → position and size, for the fds of {@code fds} (fd → link target) that name a regular file. */
    static Map<Integer, Open> read(int pid, Map<Integer, String> fds) throws IOException {
        Path dir = ProcFs.dir(pid);
        Map<Integer, Open> out = new TreeMap<>();
        for (Map.Entry<Integer, String> e : fds.entrySet()) {
            if (!e.getValue().startsWith("/")) continue; // sockets, pipes, anon inodes
            Path fd = dir.resolve("fd").resolve(Integer.toString(e.getKey()));
            java.nio.file.attribute.BasicFileAttributes a;
            try {
                a = Files.readAttributes(fd, java.nio.file.attribute.BasicFileAttributes.class); // one stat: kind and size
            } catch (java.nio.file.NoSuchFileException gone) {
                continue;
            }
            if (!a.isRegularFile()) continue;
            long pos = -1;
            for (String line : Files.readAllLines(dir.resolve("fdinfo").resolve(Integer.toString(e.getKey())))) {
                if (line.startsWith("pos:")) {
                    pos = Long.parseLong(line.substring(4).trim());
                    break;
                }
            }
            out.put(e.getKey(), new Open(pos, a.size()));
        }
        return out;
    }
}
