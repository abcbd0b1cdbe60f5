package io.checkpointd.linux.proc;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * {@code /proc/PID/fdinfo/FD} of one process, each kept open from one pause to the next: a read is then one
 * {@code pread} instead of open, read and close. The kernel looks the fd number up at every read, so an fd closed
 * and opened again under the same number reads as the new file, as a fresh open would. At most
 * {@link #MAX_OPEN} are kept; beyond that a read opens and closes as {@link ProcFiles#readSingle} does.
 */
public final class FdInfoFiles implements AutoCloseable {
    static final int MAX_OPEN = 1024;

    private final String dir;
    private final Map<Integer, Integer> open = new HashMap<>();

    public FdInfoFiles(int pid) {
        this.dir = "/proc/" + pid + "/fdinfo/";
    }

    /** The content of fd {@code fd}'s fdinfo; {@link NoSuchFileException} if the fd (or the process) is gone. */
    public byte[] read(int fd) throws IOException {
        String path = dir + fd;
        Integer h = open.get(fd);
        if (h == null) {
            if (open.size() >= MAX_OPEN) return ProcFiles.readSingle(path);
            h = ProcFiles.open(path);
            open.put(fd, h);
        }
        try {
            return ProcFiles.preadSingle(h, path);
        } catch (IOException | RuntimeException e) {
            open.remove(fd);
            ProcFiles.close(h);
            throw e;
        }
    }

    /** Closes what is kept of fds not in {@code fds} (the process's fd table now). */
    public void retain(Set<Integer> fds) {
        for (Iterator<Map.Entry<Integer, Integer>> it = open.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Integer, Integer> e = it.next();
            if (fds.contains(e.getKey())) continue;
            ProcFiles.close(e.getValue());
            it.remove();
        }
    }

    /** Descriptors kept open now. */
    public int kept() {
        return open.size();
    }

    @Override
    public void close() {
        for (int h : open.values()) ProcFiles.close(h);
        open.clear();
    }
}
