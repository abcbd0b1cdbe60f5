package io.checkpointd.linux.inotify;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** Raw inotify calls; package-private, {@link Inotify} checks every result. */
interface InotifyLib extends Library {
    InotifyLib INSTANCE = Native.load("c", InotifyLib.class);

    /** {@code int inotify_init1(int flags)} */
    int inotify_init1(int flags);

    /** {@code int inotify_add_watch(int fd, const char *pathname, uint32_t mask)} */
    int inotify_add_watch(int fd, String pathname, int mask);

    /** {@code int inotify_rm_watch(int fd, int wd)} */
    int inotify_rm_watch(int fd, int wd);

    /** {@code ssize_t read(int fd, void *buf, size_t count)} */
    long read(int fd, Pointer buf, long count);
}
