package io.checkpointd.linux.inotify;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * An inotify instance ({@code inotify(7)}), always non-blocking: {@link #read()} returns what is queued now and
 * never waits, so a caller that holds a frozen process never blocks on it.
 */
public final class Inotify implements AutoCloseable {
    // <sys/inotify.h>
    public static final int IN_ACCESS = 0x1, IN_MODIFY = 0x2, IN_ATTRIB = 0x4, IN_CLOSE_WRITE = 0x8,
            IN_MOVED_FROM = 0x40, IN_MOVED_TO = 0x80, IN_CREATE = 0x100, IN_DELETE = 0x200,
            IN_DELETE_SELF = 0x400, IN_MOVE_SELF = 0x800;
    public static final int IN_UNMOUNT = 0x2000, IN_Q_OVERFLOW = 0x4000, IN_IGNORED = 0x8000;
    public static final int IN_ONLYDIR = 0x01000000, IN_DONT_FOLLOW = 0x02000000, IN_EXCL_UNLINK = 0x04000000,
            IN_ISDIR = 0x40000000;
    public static final int IN_NONBLOCK = 04000, IN_CLOEXEC = 02000000;

    /** {@code sizeof(struct inotify_event)} without the name. */
    private static final int HEADER = 16;
    /** Room for many events per read(2); a read returns only whole events. */
    private static final int BUFFER = 64 * 1024;

    private final FileDescriptor fd;
    private final Memory buf = new Memory(BUFFER);

    private Inotify(FileDescriptor fd) {
        this.fd = fd;
    }

    /** {@code inotify_init1(IN_NONBLOCK | IN_CLOEXEC)}. */
    public static Inotify open() throws SyscallException {
        int r = InotifyLib.INSTANCE.inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r < 0) throw new SyscallException("inotify_init1", Native.getLastError());
        return new Inotify(new FileDescriptor(r, "inotify"));
    }

    public FileDescriptor fd() {
        return fd;
    }

    /**
     * {@code inotify_add_watch(2)}. Watching an inode already watched returns its existing descriptor (and
     * replaces its mask), which is what lets a moved directory be re-registered under its new path.
     *
     * @return the watch descriptor
     */
    public int addWatch(String path, int mask) throws SyscallException {
        int wd = InotifyLib.INSTANCE.inotify_add_watch(fd.fd(), path, mask);
        if (wd < 0) throw new SyscallException("inotify_add_watch", Native.getLastError(), path);
        return wd;
    }

    /** {@code inotify_rm_watch(2)}; an {@code IN_IGNORED} event for {@code wd} follows. */
    public void rmWatch(int wd) throws SyscallException {
        if (InotifyLib.INSTANCE.inotify_rm_watch(fd.fd(), wd) < 0) {
            throw new SyscallException("inotify_rm_watch", Native.getLastError(), "wd " + wd);
        }
    }

    /** Every event queued now, in order; empty if none. Never blocks. */
    public List<InotifyEvent> read() throws SyscallException {
        List<InotifyEvent> out = new ArrayList<>();
        while (true) {
            long n = InotifyLib.INSTANCE.read(fd.fd(), buf, BUFFER);
            if (n < 0) {
                int e = Native.getLastError();
                if (e == Errno.EAGAIN) return out;
                if (e == Errno.EINTR) continue;
                throw new SyscallException("read(inotify)", e);
            }
            if (n == 0) return out;
            parse(n, out);
        }
    }

    private void parse(long n, List<InotifyEvent> out) {
        long off = 0;
        while (off + HEADER <= n) {
            int wd = buf.getInt(off), mask = buf.getInt(off + 4), cookie = buf.getInt(off + 8), len = buf.getInt(off + 12);
            String name = "";
            if (len > 0) {
                byte[] raw = buf.getByteArray(off + HEADER, len);
                int end = 0;
                while (end < len && raw[end] != 0) end++; // the name is NUL-padded to an alignment boundary
                name = new String(raw, 0, end, StandardCharsets.UTF_8);
            }
            out.add(new InotifyEvent(wd, mask, cookie, name));
            off += HEADER + len;
        }
    }

    @Override
    public void close() {
        fd.close();
        buf.close();
    }
}
