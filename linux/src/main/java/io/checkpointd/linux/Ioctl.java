package io.checkpointd.linux;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;

/**
 * A generic checked {@code ioctl(2)} and the {@code _IOC} request-number arithmetic of
 * {@code <asm-generic/ioctl.h>}, so request numbers can be computed in Java next to the C definition
 * they mirror (the build machine's headers may predate them).
 */
public final class Ioctl {
    // <asm-generic/ioctl.h>: nr bits 0-7, type bits 8-15, size bits 16-29, dir bits 30-31
    public static final int _IOC_NONE = 0, _IOC_WRITE = 1, _IOC_READ = 2;

    private Ioctl() {
    }

    /** {@code _IOC(dir, type, nr, size)} */
    public static long _IOC(int dir, int type, int nr, int size) {
        return ((long) dir << 30) | ((long) size << 16) | ((long) type << 8) | nr;
    }

    /** {@code _IOWR(type, nr, size)}: argument read and written by the kernel. */
    public static long _IOWR(int type, int nr, int size) {
        return _IOC(_IOC_READ | _IOC_WRITE, type, nr, size);
    }

    /** {@code _IOR(type, nr, size)}: the kernel writes the argument. */
    public static long _IOR(int type, int nr, int size) {
        return _IOC(_IOC_READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, size)}: the kernel reads the argument. */
    public static long _IOW(int type, int nr, int size) {
        return _IOC(_IOC_WRITE, type, nr, size);
    }

    /**
     * {@code ioctl(fd, request, arg)} with a direct buffer as the argument struct (from its position 0).
     *
     * @param name the name for the exception, e.g. {@code "ioctl(UFFDIO_API)"}
     * @return the non-negative result
     */
    public static int ioctl(FileDescriptor fd, long request, ByteBuffer arg, String name) throws SyscallException {
        if (!arg.isDirect()) throw new IllegalArgumentException("ioctl argument must be a direct buffer");
        return ioctl(fd.fd(), request, Native.getDirectBufferPointer(arg), name);
    }

    /** {@code ioctl(fd, request, arg)} with an integer argument. */
    public static int ioctl(FileDescriptor fd, long request, long arg, String name) throws SyscallException {
        int r = LibC.INSTANCE.ioctl(fd.fd(), request, arg);
        if (r < 0) throw new SyscallException(name, Native.getLastError());
        return r;
    }

    /** Package-private: the pointer form for this module's own wrappers. */
    static int ioctl(int fd, long request, Pointer arg, String name) throws SyscallException {
        int r = LibC.INSTANCE.ioctl(fd, request, arg);
        if (r < 0) throw new SyscallException(name, Native.getLastError());
        return r;
    }
}
