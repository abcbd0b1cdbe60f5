package io.checkpointd.linux.uffd;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** Raw ioctl for this package's structs; package-private, wrappers check results. Variadic in C, fixed here (sound on x86_64). */
interface UffdLib extends Library {
    UffdLib INSTANCE = Native.load("c", UffdLib.class);

    /** {@code int ioctl(int fd, unsigned long request, void *arg)} */
    int ioctl(int fd, long request, Pointer arg);

    /** {@code ssize_t read(int fd, void *buf, size_t count)} */
    long read(int fd, Pointer buf, long count);

    /** {@code int poll(struct pollfd *fds, nfds_t nfds, int timeout)} */
    int poll(Pointer fds, long nfds, int timeout);
}
