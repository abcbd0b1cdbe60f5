package io.checkpointd.primary.engine.fds;

import static io.checkpointd.linux.net.SocketOptions.*;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.net.SockDiag;
import io.checkpointd.linux.net.SocketOptions;
import io.checkpointd.protocol.image.ProtoMessage;
import java.io.IOException;

/**
 * The {@code inet_sk_entry} of a TCP socket (CRIU's images/sk-inet.proto, MIT), filled the way CRIU 4.2's
 * {@code do_dump_one_inet_fd} fills it under {@code --tcp-close}: state, ports, addresses and queue length from
 * {@code sock_diag}, the file flags from fdinfo, the owner, {@code sk_opts_entry}, {@code ip_opts_entry} and
 * {@code tcp_opts_entry} from the options of a duplicate of the socket. Under {@code --tcp-close} CRIU saves no
 * TCP stream for a connected socket (its restore gives a closed socket), so neither does this. Without
 * {@code id} and {@code ns_id}, which the image patch assigns.
 */
final class InetEntry {
    /** {@code inet_sk_entry} field numbers. */
    static final int ID = 1, NS_ID = 18;

    private InetEntry() {
    }

    /** The entry of socket {@code s} (a duplicate), described by {@code sk}, with file flags {@code fileFlags}. */
    static ProtoMessage of(FileDescriptor s, SockDiag.InetSock sk, int fileFlags) throws IOException, Unsupported {
        int family = sk.family();
        if (family == SockDiag.AF_INET6 && sk.srcPort() != 0 && needsScopeId(sk.src())) {
            throw new Unsupported("link-local IPv6 socket", "bound to " + java.util.Arrays.toString(sk.src()));
        }
        ProtoMessage ie = new ProtoMessage();
        ie.setVarint(2, sk.inode());
        ie.setVarint(3, family);
        ie.setVarint(4, SOCK_STREAM);
        ie.setVarint(5, IPPROTO_TCP);
        ie.setVarint(6, sk.state());
        ie.setVarint(7, sk.srcPort());
        ie.setVarint(8, sk.dstPort());
        ie.setVarint(9, fileFlags);
        ie.setVarint(10, Integer.toUnsignedLong(sk.wqueue())); // CRIU's "backlog" is idiag_wqueue, whatever the state
        ie.setRepeatedVarints(11, words(sk.src()));
        ie.setRepeatedVarints(12, words(sk.dst()));
        ie.setMessages(13, java.util.List.of(Fown.of(s)));
        ie.setMessages(14, java.util.List.of(skOpts(s)));
        if (family == SockDiag.AF_INET6) ie.setVarint(15, intOpt(s, SOL_IPV6, IPV6_V6ONLY) != 0 ? 1 : 0);
        ie.setMessages(16, java.util.List.of(ipOpts(s, family)));
        if (sk.shutdown() != 0) ie.setVarint(19, sk.shutdown());
        ie.setMessages(20, java.util.List.of(tcpOpts(s)));
        return ie;
    }

    /**
     * A TCP socket no {@code sock_diag} table lists (never bound or connected, or reset and unhashed), as CRIU's
     * {@code gen_uncon_sk} describes it: addresses from {@code SO_PEERNAME} and {@code getsockname}, state
     * {@code TCP_CLOSE} (checked with {@code TCP_INFO}), "backlog" {@code tcpi_backoff}, a receive shutdown from
     * {@code poll}. CRIU gives such a socket no network namespace id when the namespace is its own.
     */
    static SockDiag.InetSock unhashed(FileDescriptor s, int family, long inode) throws IOException, Unsupported {
        int alen = family == SockDiag.AF_INET ? 4 : 16;
        Object[] peer = SocketOptions.address(s, true, family), own = SocketOptions.address(s, false, family);
        int[] info = SocketOptions.tcpStateAndBackoff(s);
        if (info[0] != SockDiag.TCP_CLOSE) throw new Unsupported("TCP socket changing state", "state " + info[0] + ", inode " + inode);
        int revents = SocketOptions.pollNow(s, SocketOptions.POLLRDHUP | SocketOptions.POLLHUP);
        int shutdown = (revents & SocketOptions.POLLHUP) != 0 && (revents & SocketOptions.POLLRDHUP) != 0 ? 1 : 0;
        return new SockDiag.InetSock(family, SockDiag.TCP_CLOSE, own == null ? 0 : (Integer) own[0], peer == null ? 0 : (Integer) peer[0],
                own == null ? new byte[alen] : (byte[]) own[1], peer == null ? new byte[alen] : (byte[]) peer[1], inode, 0, info[1], shutdown);
    }

    /** An address as CRIU stores it: its bytes read as native (little-endian) 32-bit words. */
    private static long[] words(byte[] a) {
        long[] w = new long[a.length / 4];
        for (int i = 0; i < w.length; i++) {
            w[i] = (a[4 * i] & 0xffL) | (a[4 * i + 1] & 0xffL) << 8 | (a[4 * i + 2] & 0xffL) << 16 | (a[4 * i + 3] & 0xffL) << 24;
        }
        return w;
    }

    /** CRIU's {@code needs_scope_id}: link-local unicast or multicast addresses need an interface to bind. */
    private static boolean needsScopeId(byte[] a) {
        boolean linkLocal = (a[0] & 0xff) == 0xfe && (a[1] & 0xc0) == 0x80;
        boolean mcLinkLocal = (a[0] & 0xff) == 0xff && (a[1] & 0x0f) == 0x02;
        return linkLocal || mcLinkLocal;
    }

    /** {@code sk_opts_entry} as CRIU's {@code dump_socket_opts} fills it for an inet socket. */
    private static ProtoMessage skOpts(FileDescriptor s) throws IOException, Unsupported {
        if (SocketOptions.boundDeviceLength(s) > 0) throw new Unsupported("socket bound to a device", "SO_BINDTODEVICE set");
        if (SocketOptions.filterLength(s) > 0) throw new Unsupported("socket with a filter", "SO_GET_FILTER non-empty");
        ProtoMessage o = new ProtoMessage();
        o.setVarint(1, Integer.toUnsignedLong(intOpt(s, SOL_SOCKET, SO_SNDBUF)));
        o.setVarint(2, Integer.toUnsignedLong(intOpt(s, SOL_SOCKET, SO_RCVBUF)));
        long[] snd = timeval(s, SOL_SOCKET, SO_SNDTIMEO), rcv = timeval(s, SOL_SOCKET, SO_RCVTIMEO);
        o.setVarint(3, snd[0]);
        o.setVarint(4, snd[1]);
        o.setVarint(5, rcv[0]);
        o.setVarint(6, rcv[1]);
        o.setVarint(7, bool(s, SOL_SOCKET, SO_REUSEADDR));
        o.setVarint(8, Integer.toUnsignedLong(intOpt(s, SOL_SOCKET, SO_PRIORITY)));
        o.setVarint(9, Integer.toUnsignedLong(intOpt(s, SOL_SOCKET, SO_RCVLOWAT)));
        int mark = intOpt(s, SOL_SOCKET, SO_MARK);
        if (mark != 0) o.setVarint(10, Integer.toUnsignedLong(mark));
        o.setVarint(13, bool(s, SOL_SOCKET, SO_DONTROUTE));
        o.setVarint(14, bool(s, SOL_SOCKET, SO_NO_CHECK));
        o.setVarint(17, bool(s, SOL_SOCKET, SO_REUSEPORT));
        o.setVarint(18, bool(s, SOL_SOCKET, SO_BROADCAST));
        o.setVarint(19, bool(s, SOL_SOCKET, SO_KEEPALIVE));
        o.setVarint(23, bool(s, SOL_SOCKET, SO_OOBINLINE));
        int[] linger = linger(s);
        if (linger[0] != 0) o.setVarint(24, Integer.toUnsignedLong(linger[1]));
        o.setVarint(25, Integer.toUnsignedLong(intOpt(s, SOL_SOCKET, SO_BUF_LOCK))); // kernel >= 5.14 has it
        return o;
    }

    /** {@code ip_opts_entry} as CRIU's {@code dump_ip_opts} fills it for a TCP socket: only what is set. */
    private static ProtoMessage ipOpts(FileDescriptor s, int family) throws IOException {
        ProtoMessage o = new ProtoMessage();
        long freebind, pktinfo, tos = 0, ttl = 0;
        if (family == SockDiag.AF_INET6) {
            freebind = bool(s, SOL_IPV6, IPV6_FREEBIND);
            pktinfo = bool(s, SOL_IPV6, IPV6_RECVPKTINFO);
        } else {
            freebind = bool(s, SOL_IP, IP_FREEBIND);
            pktinfo = bool(s, SOL_IP, IP_PKTINFO);
            tos = Integer.toUnsignedLong(intOpt(s, SOL_IP, IP_TOS));
            ttl = Integer.toUnsignedLong(intOpt(s, SOL_IP, IP_TTL));
        }
        if (freebind != 0) o.setVarint(1, freebind);
        if (pktinfo != 0) o.setVarint(5, pktinfo);
        if (tos != 0) o.setVarint(6, tos);
        if (ttl != 0) o.setVarint(7, ttl);
        return o;
    }

    /** {@code tcp_opts_entry} as CRIU's {@code dump_tcp_opts} fills it: each option only when non-zero. */
    private static ProtoMessage tcpOpts(FileDescriptor s) throws IOException {
        ProtoMessage o = new ProtoMessage();
        int[][] opts = {{1, TCP_CORK}, {2, TCP_NODELAY}, {3, TCP_KEEPCNT}, {4, TCP_KEEPIDLE}, {5, TCP_KEEPINTVL}};
        for (int[] f : opts) {
            int v = intOpt(s, SOL_TCP, f[1]);
            if (v != 0) o.setVarint(f[0], f[0] <= 2 ? 1 : Integer.toUnsignedLong(v));
        }
        return o;
    }

    private static long bool(FileDescriptor s, int level, int name) throws IOException {
        return intOpt(s, level, name) != 0 ? 1 : 0;
    }
}
