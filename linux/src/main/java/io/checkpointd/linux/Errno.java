package io.checkpointd.linux;

import com.sun.jna.Library;
import com.sun.jna.Native;

/** errno names and strerror, for messages. */
public final class Errno {
    public static final int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, EBADF = 9, ECHILD = 10,
            EAGAIN = 11, ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EINVAL = 22,
            ENOSPC = 28, EROFS = 30, ENOSYS = 38, ENOTTY = 25, EOPNOTSUPP = 95;

    private static final String[] NAMES = new String[134];

    static {
        String[][] n = {{"1", "EPERM"}, {"2", "ENOENT"}, {"3", "ESRCH"}, {"4", "EINTR"}, {"5", "EIO"}, {"9", "EBADF"},
            {"10", "ECHILD"}, {"11", "EAGAIN"}, {"12", "ENOMEM"}, {"13", "EACCES"}, {"14", "EFAULT"}, {"16", "EBUSY"},
            {"17", "EEXIST"}, {"22", "EINVAL"}, {"25", "ENOTTY"}, {"28", "ENOSPC"}, {"30", "EROFS"}, {"38", "ENOSYS"},
            {"95", "EOPNOTSUPP"}, {"110", "ETIMEDOUT"}, {"111", "ECONNREFUSED"}};
        for (String[] e : n) NAMES[Integer.parseInt(e[0])] = e[1];
    }

    private interface StrError extends Library {
        StrError INSTANCE = Native.load("c", StrError.class);

        String strerror(int errnum);
    }

    private Errno() {
    }

    public static String name(int errno) {
        if (errno < 0) return "E?";
        return errno < NAMES.length && NAMES[errno] != null ? NAMES[errno] : "errno " + errno;
    }

    public static String strerror(int errno) {
        if (errno <= 0) return "library error";
        try {
            return StrError.INSTANCE.strerror(errno);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }
}
