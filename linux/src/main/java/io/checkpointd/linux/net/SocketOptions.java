package io.checkpointd.linux.net;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;

/**
 * Checked {@code getsockopt} and {@code fcntl} on a socket held here (typically a {@code pidfd_getfd} duplicate of
 * another process's socket: same open file, so same options, flags and owner). Constants under their C names.
 */
public final class SocketOptions {
    // <asm-generic/socket.h> (x86_64)
    public static final int SOL_SOCKET = 1, SO_REUSEADDR = 2, SO_TYPE = 3, SO_DONTROUTE = 5, SO_BROADCAST = 6, SO_SNDBUF = 7,
            SO_RCVBUF = 8, SO_KEEPALIVE = 9, SO_OOBINLINE = 10, SO_NO_CHECK = 11, SO_PRIORITY = 12, SO_LINGER = 13,
            SO_REUSEPORT = 15, SO_RCVLOWAT = 18, SO_RCVTIMEO = 20, SO_SNDTIMEO = 21, SO_BINDTODEVICE = 25,
            SO_GET_FILTER = 26, SO_PEERNAME = 28, SO_MARK = 36, SO_PROTOCOL = 38, SO_DOMAIN = 39, SO_BUF_LOCK = 72;
    // <netinet/in.h>
    public static final int SOL_IP = 0, IP_TOS = 1, IP_TTL = 2, IP_PKTINFO = 8, IP_FREEBIND = 15;
    public static final int SOL_IPV6 = 41, IPV6_V6ONLY = 26, IPV6_RECVPKTINFO = 49, IPV6_FREEBIND = 78;
    // <netinet/tcp.h>
    public static final int SOL_TCP = 6, TCP_NODELAY = 1, TCP_CORK = 3, TCP_KEEPIDLE = 4, TCP_KEEPINTVL = 5, TCP_KEEPCNT = 6, TCP_INFO = 11;
    // <poll.h>
    public static final int POLLHUP = 0x10, POLLRDHUP = 0x2000;
    private static final int ENOTCONN = 107;
    public static final int SOCK_STREAM = 1, IPPROTO_TCP = 6;
    // <fcntl.h>
    public static final int F_GETOWN = 9, F_GETSIG = 11;

    private SocketOptions() {
    }

    /** An {@code int} option. */
    public static int intOpt(FileDescriptor s, int level, int name) throws SyscallException {
        try (Memory m = new Memory(4)) {
            get(s, level, name, m, 4);
            return m.getInt(0);
        }
    }

    /** A {@code struct timeval} option (SO_SNDTIMEO, SO_RCVTIMEO): {seconds, microseconds}. */
    public static long[] timeval(FileDescriptor s, int level, int name) throws SyscallException {
        try (Memory m = new Memory(16)) {
            get(s, level, name, m, 16);
            return new long[] {m.getLong(0), m.getLong(8)};
        }
    }

    /** {@code SO_LINGER}: {l_onoff, l_linger}. */
    public static int[] linger(FileDescriptor s) throws SyscallException {
        try (Memory m = new Memory(8)) {
            get(s, SOL_SOCKET, SO_LINGER, m, 8);
            return new int[] {m.getInt(0), m.getInt(4)};
        }
    }

    /** The length of the {@code SO_BINDTODEVICE} name: 0 when the socket is bound to no device. */
    public static int boundDeviceLength(FileDescriptor s) throws SyscallException {
        try (Memory m = new Memory(16)) {
            return get(s, SOL_SOCKET, SO_BINDTODEVICE, m, 16);
        }
    }

    /** The number of instructions of the socket's classic BPF filter ({@code SO_GET_FILTER} with no buffer): 0 for none. */
    public static int filterLength(FileDescriptor s) throws SyscallException {
        return get(s, SOL_SOCKET, SO_GET_FILTER, null, 0);
    }

    /**
     * The peer's ({@code SO_PEERNAME}) or the socket's own ({@code getsockname}) address as {port, address bytes
     * (4 or 16)}, or null when the socket is not connected ({@code ENOTCONN}). The length passed is the family's
     * {@code sockaddr}'s, as CRIU passes it: the kernel refuses {@code SO_PEERNAME} with a longer one.
     */
    public static Object[] address(FileDescriptor s, boolean peer, int family) throws SyscallException {
        try (Memory m = new Memory(128)) {
            m.clear();
            int[] len = {family == SockDiag.AF_INET ? 16 : 28};
            int r = peer ? NetLib.INSTANCE.getsockopt(s.fd(), SOL_SOCKET, SO_PEERNAME, m, len) : NetLib.INSTANCE.getsockname(s.fd(), m, len);
            if (r != 0) {
                int e = Native.getLastError();
                if (e == ENOTCONN) return null;
                throw new SyscallException(peer ? "getsockopt(SO_PEERNAME)" : "getsockname", e);
            }
            int got = m.getShort(0) & 0xffff;
            int port = ((m.getByte(2) & 0xff) << 8) | (m.getByte(3) & 0xff);
            byte[] a = got == SockDiag.AF_INET ? m.getByteArray(4, 4) : m.getByteArray(8, 16);
            return new Object[] {port, a};
        }
    }

    /** The first bytes of {@code TCP_INFO}: {tcpi_state, tcpi_backoff}. */
    public static int[] tcpStateAndBackoff(FileDescriptor s) throws SyscallException {
        try (Memory m = new Memory(256)) {
            get(s, SOL_TCP, TCP_INFO, m, 256);
            return new int[] {m.getByte(0) & 0xff, m.getByte(4) & 0xff};
        }
    }

    /** {@code poll} of one fd for {@code events}, without waiting: the events returned. */
    public static int pollNow(FileDescriptor s, int events) throws SyscallException {
        try (Memory m = new Memory(8)) {
            m.setInt(0, s.fd());
            m.setShort(4, (short) events);
            m.setShort(6, (short) 0);
            int r = NetLib.INSTANCE.poll(m, 1, 0);
            if (r < 0) throw new SyscallException("poll", Native.getLastError());
            return m.getShort(6) & 0xffff;
        }
    }

    /** {@code fcntl(fd, cmd, 0)} for a query ({@link #F_GETSIG}, {@link #F_GETOWN}). */
    public static int fcntl(FileDescriptor s, int cmd) throws SyscallException {
        int r = NetLib.INSTANCE.fcntl(s.fd(), cmd, 0);
        if (r == -1) {
            int e = Native.getLastError();
            if (e != 0) throw new SyscallException("fcntl", e, "cmd " + cmd);
        }
        return r;
    }

    private static int get(FileDescriptor s, int level, int name, Memory m, int size) throws SyscallException {
        int[] len = {size};
        if (NetLib.INSTANCE.getsockopt(s.fd(), level, name, m, len) != 0) {
            throw new SyscallException("getsockopt", Native.getLastError(), "level " + level + " name " + name);
        }
        return len[0];
    }
}
