package io.checkpointd.linux.proc;

import com.sun.jna.Native;
import com.sun.jna.Pointer;

/**
 * The few libc calls that read small {@code /proc} files, by JNA direct mapping: the incremental engine reads the
 * memory map, the fd table, {@code status} and {@code fdinfo} of a stopped process in every pause, and
 * {@code java.nio.file} costs several times what the kernel spends producing them (docs/design/incremental.md).
 * Raw: callers check results and read errno with {@link Native#getLastError()}.
 */
final class ProcDirect {
    static {
        Native.register("c");
    }

    private ProcDirect() {
    }

    /** {@code int open(const char *path, int flags)}, path NUL-terminated. */
    static native int open(byte[] path, int flags);

    /** {@code ssize_t read(int fd, void *buf, size_t count)} */
    static native long read(int fd, Pointer buf, long count);

    static native int close(int fd);

    /** {@code ssize_t pread(int fd, void *buf, size_t count, off_t offset)} */
    static native long pread(int fd, Pointer buf, long count, long offset);

    /** {@code ssize_t readlink(const char *path, char *buf, size_t size)}, path NUL-terminated. */
    static native long readlink(byte[] path, Pointer buf, long size);

    /** {@code ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)}, path NUL-terminated. */
    static native long readlinkat(int dirfd, byte[] path, Pointer buf, long size);

    /** {@code long syscall(long nr, ...)} for getdents64 and newfstatat, which glibc exposes differently across versions. */
    static native long syscall(long nr, long a1, long a2, long a3, long a4);
}
