package io.checkpointd.primary.engine.patch;

import io.checkpointd.linux.proc.FdInfoFiles;
import io.checkpointd.linux.proc.ProcFiles;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Position and size of every regular file the process holds open, read each epoch with the process stopped. A
 * service appending to a file changes both every epoch; CRIU restores the position from the image and refuses a
 * file whose size differs from the image's, so both are patched into the epoch's image ({@code files.img}).
 */
public final class OpenFiles {
    /** One open regular file. */
    public record Open(long pos, long size) {
    }

    private OpenFiles() {
    }

    /**
     * fd → position and size, for the fds of {@code fds} (fd → link target) that name a regular file; positions
     * from {@code fdInfo}.
     */
    public static Map<Integer, Open> read(int pid, Map<Integer, String> fds, FdInfoFiles fdInfo) throws IOException {
        String dir = "/proc/" + pid;
        Map<Integer, Open> out = new TreeMap<>();
        for (Map.Entry<Integer, String> e : fds.entrySet()) {
            if (!e.getValue().startsWith("/")) continue; // sockets, pipes, anon inodes
            ProcFiles.Stat a;
            try {
                a = ProcFiles.stat(dir + "/fd/" + e.getKey()); // one stat: kind and size
            } catch (java.nio.file.NoSuchFileException gone) {
                continue;
            }
            if (!a.isRegularFile()) continue;
            String pos;
            try {
                pos = ProcFiles.field(fdInfo.read(e.getKey()), "pos:");
            } catch (java.nio.file.NoSuchFileException gone) {
                continue;
            }
            out.put(e.getKey(), new Open(pos == null ? -1 : Long.parseLong(pos), a.size()));
        }
        return out;
    }
}
