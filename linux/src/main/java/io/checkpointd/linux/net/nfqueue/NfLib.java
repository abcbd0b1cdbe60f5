package io.checkpointd.linux.net.nfqueue;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** Raw socket calls and {@code setns} for the queue reader; package-private, {@link NfQueue} checks every result. */
interface NfLib extends Library {
    NfLib INSTANCE = Native.load("c", NfLib.class);

    int socket(int domain, int type, int protocol);

    /** {@code int bind(int fd, const struct sockaddr *addr, socklen_t len)} */
    int bind(int fd, byte[] addr, int len);

    /** {@code int setsockopt(int fd, int level, int name, const void *val, socklen_t len)} with an int value. */
    int setsockopt(int fd, int level, int name, int[] val, int len);

    /** {@code ssize_t send(int fd, const void *buf, size_t len, int flags)} */
    long send(int fd, byte[] buf, long len, int flags);

    /** {@code ssize_t recv(int fd, void *buf, size_t len, int flags)} */
    long recv(int fd, byte[] buf, long len, int flags);

    /** {@code int poll(struct pollfd *fds, nfds_t nfds, int timeout)} */
    int poll(Pointer fds, long nfds, int timeout);

    /** {@code int setns(int fd, int nstype)}: moves the calling thread only. */
    int setns(int fd, int nstype);
}
