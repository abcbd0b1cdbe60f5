package io.checkpointd.linux.net;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

/** Raw {@code <sys/socket.h>} and {@code fcntl}; package-private, {@link SockDiag} and {@link SocketOptions} check results. */
interface NetLib extends Library {
    NetLib INSTANCE = Native.load("c", NetLib.class);

    int socket(int domain, int type, int protocol);

    /** {@code ssize_t send(int fd, const void *buf, size_t len, int flags)} */
    long send(int fd, byte[] buf, long len, int flags);

    /** {@code ssize_t recv(int fd, void *buf, size_t len, int flags)} */
    long recv(int fd, byte[] buf, long len, int flags);

    /** {@code int getsockopt(int fd, int level, int name, void *val, socklen_t *len)}; {@code val} may be null. */
    int getsockopt(int fd, int level, int name, Pointer val, int[] len);

    /** {@code int setsockopt(int fd, int level, int name, const void *val, socklen_t len)} */
    int setsockopt(int fd, int level, int name, int[] val, int len);

    /** {@code int ioctl(int fd, unsigned long request, int *arg)} (SIOCINQ, SIOCOUTQ, SIOCOUTQNSD). */
    int ioctl(int fd, long request, int[] arg);

    /** {@code ioctl} with a struct argument ({@code struct ifreq}). */
    int ioctl(int fd, long request, Pointer arg);

    /** {@code ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)} */
    long sendto(int fd, byte[] buf, long len, int flags, Pointer to, int tolen);

    /** {@code int getsockname(int fd, struct sockaddr *addr, socklen_t *len)} */
    int getsockname(int fd, Pointer addr, int[] len);

    /** {@code int poll(struct pollfd *fds, nfds_t nfds, int timeout)} */
    int poll(Pointer fds, long nfds, int timeout);

    /** {@code int fcntl(int fd, int cmd, ...)} with an integer argument (fixed arity is sound on x86_64). */
    int fcntl(int fd, int cmd, long arg);
}
