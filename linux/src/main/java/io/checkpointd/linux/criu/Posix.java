package io.checkpointd.linux.criu;

import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * The few libc calls this package needs (opening the images/work dir fd handed to CRIU, becoming a child
 * subreaper, reaping restored trees). Private to the package so the syscall bindings in
 * {@code io.checkpointd.linux} stay owned by their author.
 */
interface Posix extends Library {
    Posix INSTANCE = Native.load("c", Posix.class);

    int O_RDONLY = 0;
    int O_DIRECTORY = 0200000;
    int PR_SET_CHILD_SUBREAPER = 36;
    int PR_GET_CHILD_SUBREAPER = 37;
    int WNOHANG = 1;

    int open(String path, int flags);

    int close(int fd);

    int prctl(int option, long arg2, long arg3, long arg4, long arg5);

    int waitpid(int pid, int[] status, int options);
}
