package io.checkpointd.linux.uffd;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.Ioctl;
import io.checkpointd.linux.SyscallException;
import io.checkpointd.linux.Syscalls;

/**
 * A userfaultfd ({@code <linux/userfaultfd.h>}) used for write-protect tracking. The ioctls act on the memory
 * of the process that <em>created</em> the userfaultfd, whoever calls them: so a tracer holding a userfaultfd
 * created inside the target (see {@link UffdTracker}) registers and protects the target's memory.
 *
 * <p>With {@link #UFFD_FEATURE_WP_ASYNC} the kernel resolves write faults itself (no fault messages, the
 * writer never blocks) and only records that the page was written, which {@link PagemapScan} reads.
 * Registrations live as long as some process holds this fd.
 */
public final class Userfaultfd implements AutoCloseable {
    /** {@code UFFD_API} */
    public static final long UFFD_API = 0xAA;
    /** {@code #define UFFD_FEATURE_WP_UNPOPULATED (1<<13)}: protect never-touched pages too, so their first write is seen. */
    public static final long UFFD_FEATURE_WP_UNPOPULATED = 1L << 13;
    /** {@code #define UFFD_FEATURE_WP_ASYNC (1<<15)}: the kernel resolves WP faults itself. */
    public static final long UFFD_FEATURE_WP_ASYNC = 1L << 15;
    /** {@code UFFDIO_REGISTER_MODE_MISSING} */
    public static final long UFFDIO_REGISTER_MODE_MISSING = 1L << 0;
    /** {@code UFFDIO_REGISTER_MODE_WP} */
    public static final long UFFDIO_REGISTER_MODE_WP = 1L << 1;
    /** {@code UFFDIO_WRITEPROTECT_MODE_WP} */
    public static final long UFFDIO_WRITEPROTECT_MODE_WP = 1L << 0;

    private static final int UFFDIO = 0xAA;
    /** {@code #define UFFDIO_API _IOWR(UFFDIO, 0x3F, struct uffdio_api)}; {@code struct uffdio_api { __u64 api, features, ioctls; }} */
    public static final long UFFDIO_API = Ioctl._IOWR(UFFDIO, 0x3F, 24);
    /** {@code #define UFFDIO_REGISTER _IOWR(UFFDIO, 0x00, struct uffdio_register)}; {@code { struct uffdio_range range; __u64 mode, ioctls; }} */
    public static final long UFFDIO_REGISTER = Ioctl._IOWR(UFFDIO, 0x00, 32);
    /** {@code #define UFFDIO_UNREGISTER _IOR(UFFDIO, 0x01, struct uffdio_range)}; {@code struct uffdio_range { __u64 start, len; }} */
    public static final long UFFDIO_UNREGISTER = Ioctl._IOR(UFFDIO, 0x01, 16);
    /** {@code #define UFFDIO_WRITEPROTECT _IOWR(UFFDIO, 0x06, struct uffdio_writeprotect)}; {@code { struct uffdio_range range; __u64 mode; }} */
    public static final long UFFDIO_WRITEPROTECT = Ioctl._IOWR(UFFDIO, 0x06, 24);

    /** The features checkpointd needs for tracking. */
    /** {@code #define UFFD_FEATURE_EVENT_REMOVE (1<<3)}: {@code madvise(MADV_DONTNEED/MADV_REMOVE/MADV_FREE)} of a registered range is reported (the caller waits until the message is read). */
    public static final long UFFD_FEATURE_EVENT_REMOVE = 1L << 3;
    /** {@code uffd_msg.event} of a removal. */
    public static final int UFFD_EVENT_REMOVE = 0x15;
    /** {@code sizeof(struct uffd_msg)}. */
    public static final int MSG_SIZE = 32;
    public static final long TRACKING_FEATURES = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED;

    private final FileDescriptor fd;

    private Userfaultfd(FileDescriptor fd) {
        this.fd = fd;
    }

    /** {@code userfaultfd(2)} flag: handle faults from user mode only; needs no privilege (Linux 5.11+). */
    public static final int UFFD_USER_MODE_ONLY = 1;

    /** {@code userfaultfd(2)} in this process (flags e.g. {@code O_CLOEXEC | O_NONBLOCK}). */
    public static Userfaultfd create(int flags) throws SyscallException {
        int f = (int) Syscalls.syscall("userfaultfd", Syscalls.SYS_userfaultfd, flags, 0, 0);
        return new Userfaultfd(new FileDescriptor(f, "userfaultfd"));
    }

    /** Takes ownership of a userfaultfd obtained elsewhere (e.g. {@code pidfd_getfd} of an injected one). */
    public static Userfaultfd adopt(FileDescriptor fd) {
        return new Userfaultfd(fd);
    }

    public FileDescriptor fd() {
        return fd;
    }

    /**
     * {@code UFFDIO_API} handshake; must come first and only once.
     *
     * @return the features the kernel reports as supported
     */
    public long api(long features) throws SyscallException {
        try (Memory m = new Memory(24)) {
            m.clear();
            m.setLong(0, UFFD_API);
            m.setLong(8, features);
            ioctl(UFFDIO_API, m, "ioctl(UFFDIO_API)", null);
            return m.getLong(8);
        }
    }

    /**
     * {@code UFFDIO_REGISTER} of {@code [start, start+len)} (page aligned, whole VMAs or parts of them).
     *
     * @return the ioctls the range supports (bit {@code _UFFDIO_*})
     */
    public long register(long start, long len, long mode) throws SyscallException {
        try (Memory m = new Memory(32)) {
            m.clear();
            m.setLong(0, start);
            m.setLong(8, len);
            m.setLong(16, mode);
            ioctl(UFFDIO_REGISTER, m, "ioctl(UFFDIO_REGISTER)", range(start, len));
            return m.getLong(24);
        }
    }

    /** {@code UFFDIO_WRITEPROTECT}: protect ({@code true}) or unprotect a registered range. */
    public void writeProtect(long start, long len, boolean protect) throws SyscallException {
        try (Memory m = new Memory(24)) {
            m.setLong(0, start);
            m.setLong(8, len);
            m.setLong(16, protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0);
            ioctl(UFFDIO_WRITEPROTECT, m, "ioctl(UFFDIO_WRITEPROTECT)", range(start, len));
        }
    }

    /** {@code UFFDIO_UNREGISTER}. */
    public void unregister(long start, long len) throws SyscallException {
        try (Memory m = new Memory(16)) {
            m.setLong(0, start);
            m.setLong(8, len);
            ioctl(UFFDIO_UNREGISTER, m, "ioctl(UFFDIO_UNREGISTER)", range(start, len));
        }
    }

    /** One {@code struct uffd_msg}: the event and, for REMOVE, the range {@code [start, end)}. */
    public record Message(int event, long start, long end) {
    }

    /**
     * Reads the queued messages without blocking (the fd must be {@code O_NONBLOCK}) into {@code out}.
     *
     * @param buf a buffer of whole messages, reused by the caller
     * @return how many were read; 0 if none was queued
     */
    public int readMessages(Memory buf, java.util.List<Message> out) throws SyscallException {
        int n = 0;
        while (true) {
            long r = UffdLib.INSTANCE.read(fd.fd(), buf, buf.size() - buf.size() % MSG_SIZE);
            if (r < 0) {
                int e = Native.getLastError();
                if (e == io.checkpointd.linux.Errno.EAGAIN) return n;
                if (e == io.checkpointd.linux.Errno.EINTR) continue;
                throw new SyscallException("read(userfaultfd)", e, null);
            }
            if (r == 0) return n;
            for (long off = 0; off + MSG_SIZE <= r; off += MSG_SIZE) {
                out.add(new Message(buf.getByte(off) & 0xff, buf.getLong(off + 8), buf.getLong(off + 16)));
                n++;
            }
        }
    }

    /** {@code poll(POLLIN)} for at most {@code timeoutMillis}: true if a message is queued. */
    public boolean awaitMessage(Memory pollfd, int timeoutMillis) throws SyscallException {
        pollfd.setInt(0, fd.fd());
        pollfd.setShort(4, (short) 1); // POLLIN
        pollfd.setShort(6, (short) 0);
        int r = UffdLib.INSTANCE.poll(pollfd, 1, timeoutMillis);
        if (r < 0) {
            int e = Native.getLastError();
            if (e == io.checkpointd.linux.Errno.EINTR) return false;
            throw new SyscallException("poll(userfaultfd)", e, null);
        }
        return r > 0 && (pollfd.getShort(6) & 1) != 0;
    }

    private void ioctl(long request, Memory arg, String name, String detail) throws SyscallException {
        if (UffdLib.INSTANCE.ioctl(fd.fd(), request, arg) < 0) throw new SyscallException(name, Native.getLastError(), detail);
    }

    private static String range(long start, long len) {
        return String.format("0x%x+0x%x", start, len);
    }

    /** Closes the fd; the kernel drops all registrations once no process holds it. */
    @Override
    public void close() {
        fd.close();
    }
}
