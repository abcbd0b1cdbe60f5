package io.checkpointd.linux.net;

import com.sun.jna.Native;
import io.checkpointd.linux.Errno;
import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.SyscallException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernel's table of TCP sockets, IPv4 and IPv6, through {@code sock_diag} ({@code NETLINK_INET_DIAG},
 * {@code SOCK_DIAG_BY_FAMILY} dump of the states CRIU asks for): what CRIU reads for an inet socket (state, addresses, ports,
 * queue lengths, shutdown), keyed by inode, the number {@code /proc/PID/fd} links name. Sees the network namespace
 * of the calling thread.
 */
public final class SockDiag {
    /** {@code <sys/socket.h>} families. */
    public static final int AF_INET = 2, AF_INET6 = 10;
    /** TCP states ({@code <netinet/tcp.h>}). */
    public static final int TCP_ESTABLISHED = 1, TCP_CLOSE = 7, TCP_LISTEN = 10;
    private static final int AF_NETLINK = 16, SOCK_RAW = 3, SOCK_CLOEXEC = 0x80000, NETLINK_INET_DIAG = 4;
    private static final int SOCK_DIAG_BY_FAMILY = 20, NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300, NLMSG_ERROR = 2, NLMSG_DONE = 3;
    private static final int IPPROTO_TCP = 6, INET_DIAG_SHUTDOWN = 8, ENOENT = 2;
    private static final int NLMSG_HDRLEN = 16, REQ_LEN = NLMSG_HDRLEN + 56, MSG_LEN = 72;
    /**
     * The states CRIU 4.2 asks for (sockets.c): established, listening and closing ones. Not SYN_RECV, TIME_WAIT, nor
     * CLOSE, so a socket bound but neither listening nor connected (which kernels since 6.7 report, as CLOSE) is left
     * out as CRIU leaves it out, and described from the socket itself.
     */
    private static final int STATES = 1 << TCP_LISTEN | 1 << TCP_ESTABLISHED | 1 << 4 | 1 << 5 | 1 << 8 | 1 << 9 | 1 << 11 | 1 << 2;

    /**
     * One TCP socket as {@code inet_diag_msg} reports it.
     *
     * @param src    source address, 4 bytes (IPv4) or 16 (IPv6), network order
     * @param rqueue for a listening socket its accept queue, else the bytes not yet read
     * @param wqueue for a listening socket its backlog, else the bytes not yet acknowledged
     * @param shutdown {@code sk_shutdown}: 1 receive, 2 send, 3 both
     */
    public record InetSock(int family, int state, int srcPort, int dstPort, byte[] src, byte[] dst, long inode, int rqueue,
                           int wqueue, int shutdown) {
    }

    private SockDiag() {
    }

    /**
     * One TCP socket looked up by its addresses and ports (a request without {@code NLM_F_DUMP}: the kernel finds it
     * in its hash tables, whatever else they hold; a dump walks them all, tens of thousands of TIME_WAIT sockets on a
     * busy host, ~5 ms per family measured here). {@code src}/{@code dst}: 4 or 16 bytes as the socket's
     * {@code getsockname}/{@code SO_PEERNAME} give them (zeros and port 0 for no peer). Null when no socket of that
     * tuple is listening, connected or closing ({@code ENOENT}).
     */
    public static InetSock lookup(int family, int srcPort, byte[] src, int dstPort, byte[] dst) throws SyscallException {
        int s = NetLib.INSTANCE.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_INET_DIAG);
        if (s < 0) throw new SyscallException("socket(NETLINK_INET_DIAG)", Native.getLastError());
        try (FileDescriptor fd = new FileDescriptor(s, "sock_diag")) {
            ByteBuffer req = ByteBuffer.allocate(REQ_LEN).order(ByteOrder.nativeOrder());
            req.putInt(REQ_LEN).putShort((short) SOCK_DIAG_BY_FAMILY).putShort((short) NLM_F_REQUEST).putInt(1).putInt(0);
            req.put((byte) family).put((byte) IPPROTO_TCP).put((byte) 0).put((byte) 0).putInt(STATES);
            req.putShort(Short.reverseBytes((short) srcPort)).putShort(Short.reverseBytes((short) dstPort));
            req.put(src).position(req.position() + 16 - src.length);
            req.put(dst).position(req.position() + 16 - dst.length);
            req.putInt(0).putInt(-1).putInt(-1); // any interface; INET_DIAG_NOCOOKIE
            List<InetSock> out = new ArrayList<>(1);
            exchange(fd, req.array(), family, out::add);
            return out.isEmpty() ? null : out.get(0);
        }
    }

    /**
     * The socket {@code s} (of {@code family}) looked up by the tuple its {@code getsockname} and
     * {@code SO_PEERNAME} give; null if none is found. The answer may be another socket of the same tuple (a
     * {@code SO_REUSEPORT} group): compare the inode.
     */
    public static InetSock lookup(FileDescriptor s, int family) throws SyscallException {
        int alen = family == AF_INET ? 4 : 16;
        Object[] own = SocketOptions.address(s, false, family), peer = SocketOptions.address(s, true, family);
        byte[] src = own == null ? new byte[alen] : (byte[]) own[1];
        byte[] dst = peer == null ? new byte[alen] : (byte[]) peer[1];
        return lookup(family, own == null ? 0 : (Integer) own[0], src, peer == null ? 0 : (Integer) peer[0], dst);
    }

    /** Every TCP socket of this network namespace, IPv4 and IPv6, listening, connected or closing, by inode. */
    public static Map<Long, InetSock> tcp() throws SyscallException {
        int s = NetLib.INSTANCE.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_INET_DIAG);
        if (s < 0) throw new SyscallException("socket(NETLINK_INET_DIAG)", Native.getLastError());
        Map<Long, InetSock> out = new HashMap<>();
        try (FileDescriptor fd = new FileDescriptor(s, "sock_diag")) {
            int seq = 1;
            for (int family : new int[] {AF_INET, AF_INET6}) dump(fd, family, seq++, out);
        }
        return out;
    }

    private static void dump(FileDescriptor fd, int family, int seq, Map<Long, InetSock> out) throws SyscallException {
        ByteBuffer req = ByteBuffer.allocate(REQ_LEN).order(ByteOrder.nativeOrder());
        req.putInt(REQ_LEN).putShort((short) SOCK_DIAG_BY_FAMILY).putShort((short) (NLM_F_REQUEST | NLM_F_DUMP)).putInt(seq).putInt(0);
        req.put((byte) family).put((byte) IPPROTO_TCP).put((byte) 0).put((byte) 0).putInt(STATES);
        // the socket id (48 bytes) stays zero: a dump matches every socket
        exchange(fd, req.array(), family, sk -> out.put(sk.inode(), sk));
    }

    /** Sends {@code r} and passes every socket of the answer to {@code sink}, up to NLMSG_DONE or the single answer. */
    private static void exchange(FileDescriptor fd, byte[] r, int family, java.util.function.Consumer<InetSock> sink) throws SyscallException {
        boolean multi = (ByteBuffer.wrap(r).order(ByteOrder.nativeOrder()).getShort(6) & NLM_F_DUMP) != 0;
        if (NetLib.INSTANCE.send(fd.fd(), r, r.length, 0) != r.length) throw new SyscallException("send(sock_diag)", Native.getLastError());
        byte[] buf = new byte[65536];
        while (true) {
            long n = NetLib.INSTANCE.recv(fd.fd(), buf, buf.length, 0);
            if (n < 0) {
                int e = Native.getLastError();
                if (e == Errno.EINTR) continue;
                throw new SyscallException("recv(sock_diag)", e);
            }
            ByteBuffer b = ByteBuffer.wrap(buf, 0, (int) n).order(ByteOrder.nativeOrder());
            int off = 0;
            while (off + NLMSG_HDRLEN <= n) {
                int len = b.getInt(off), type = b.getShort(off + 4) & 0xffff;
                if (len < NLMSG_HDRLEN || off + len > n) throw new SyscallException("recv(sock_diag)", Errno.EINVAL, "truncated message");
                if (type == NLMSG_DONE) return;
                if (type == NLMSG_ERROR) {
                    int err = -b.getInt(off + NLMSG_HDRLEN);
                    if (err == ENOENT && !multi) return; // no such socket
                    if (err != 0) throw new SyscallException("sock_diag", err, family == AF_INET6 ? "AF_INET6" : "AF_INET");
                    if (!multi) return;
                } else if (type == SOCK_DIAG_BY_FAMILY && len >= NLMSG_HDRLEN + MSG_LEN) {
                    sink.accept(parse(b, off + NLMSG_HDRLEN, off + len));
                    if (!multi) return;
                }
                off += (len + 3) & ~3;
            }
        }
    }

    /** {@code struct inet_diag_msg} at {@code m}, and its attributes up to {@code end}. */
    private static InetSock parse(ByteBuffer b, int m, int end) {
        int family = b.get(m) & 0xff, state = b.get(m + 1) & 0xff;
        int sport = Short.toUnsignedInt(Short.reverseBytes(b.getShort(m + 4))), dport = Short.toUnsignedInt(Short.reverseBytes(b.getShort(m + 6)));
        int alen = family == AF_INET ? 4 : 16;
        byte[] src = new byte[alen], dst = new byte[alen];
        b.get(m + 8, src);
        b.get(m + 24, dst);
        int rq = b.getInt(m + 56), wq = b.getInt(m + 60);
        long inode = Integer.toUnsignedLong(b.getInt(m + 68));
        int shutdown = 0;
        for (int a = m + MSG_LEN; a + 4 <= end; ) {
            int alen2 = b.getShort(a) & 0xffff, atype = b.getShort(a + 2) & 0xffff;
            if (alen2 < 4) break;
            if (atype == INET_DIAG_SHUTDOWN && alen2 >= 5) shutdown = b.get(a + 4) & 0xff;
            a += (alen2 + 3) & ~3;
        }
        return new InetSock(family, state, sport, dport, src, dst, inode, rq, wq, shutdown);
    }
}
