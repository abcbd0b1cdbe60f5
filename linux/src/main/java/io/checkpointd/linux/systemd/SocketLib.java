package io.checkpointd.linux.systemd;

import com.sun.jna.Library;
import com.sun.jna.Native;

/** Raw {@code <sys/socket.h>}: what sending one datagram to a unix socket needs. Package-private: {@link SdNotify} checks results. */
interface SocketLib extends Library {
    SocketLib INSTANCE = Native.load("c", SocketLib.class);

    int AF_UNIX = 1;
    int SOCK_DGRAM = 2;
    int SOCK_CLOEXEC = 02000000;
    int MSG_NOSIGNAL = 0x4000;
    /** {@code sizeof(((struct sockaddr_un *) 0)->sun_path)} */
    int SUN_PATH_MAX = 108;

    /** {@code int socket(int domain, int type, int protocol)} */
    int socket(int domain, int type, int protocol);

    /** {@code ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, socklen_t addrlen)} */
    long sendto(int fd, byte[] buf, long len, int flags, byte[] addr, int addrlen);
}
