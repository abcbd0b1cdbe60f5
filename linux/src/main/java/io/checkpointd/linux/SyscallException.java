package io.checkpointd.linux;

import java.io.IOException;

/**
 * The one exception type for a failed system call or libc/libcriu call: carries the call's name, errno and
 * strerror, the way Netty's {@code Errors.NativeIoException} does.
 */
public final class SyscallException extends IOException {
    private static final long serialVersionUID = 1L;

    private final String call;
    private final int errno;

    public SyscallException(String call, int errno) {
        this(call, errno, null);
    }

    /** @param detail optional context (a path, a pid, the tail of a log) appended to the message */
    public SyscallException(String call, int errno, String detail) {
        super(format(call, errno, detail));
        this.call = call;
        this.errno = errno;
    }

    private static String format(String call, int errno, String detail) {
        String base = call + " failed: " + Errno.name(errno) + " (" + Errno.strerror(errno) + ")";
        return detail == null || detail.isEmpty() ? base : base + ": " + detail;
    }

    /** The name of the failed call, e.g. {@code "ptrace(PTRACE_SEIZE)"}. */
    public String call() {
        return call;
    }

    /** The errno the call left, or a negative value for a library error that has no errno. */
    public int errno() {
        return errno;
    }
}
