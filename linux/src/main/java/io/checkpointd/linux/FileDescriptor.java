package io.checkpointd.linux;

import java.io.Closeable;
import java.util.concurrent.atomic.AtomicBoolean;

/** A raw file descriptor owned by exactly one object; {@link #close()} closes it once, later calls do nothing. */
public final class FileDescriptor implements Closeable {
    private final int fd;
    private final String what;
    private final AtomicBoolean closed = new AtomicBoolean();

    public FileDescriptor(int fd, String what) {
        if (fd < 0) throw new IllegalArgumentException("negative fd for " + what);
        this.fd = fd;
        this.what = what;
    }

    /** The fd number; fails once closed so a stale number is never reused by mistake. */
    public int fd() {
        if (closed.get()) throw new IllegalStateException(what + " fd " + fd + " is closed");
        return fd;
    }

    public boolean isOpen() {
        return !closed.get();
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) LibC.INSTANCE.close(fd);
    }

    @Override
    public String toString() {
        return what + "(fd " + fd + (closed.get() ? ", closed)" : ")");
    }
}
