package io.checkpointd.primary.engine.fds;

import static io.checkpointd.linux.net.SocketOptions.*;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.net.SockDiag;
import io.checkpointd.linux.net.SocketOptions;
import io.checkpointd.protocol.image.criu.SkInet.inet_sk_entry;
import io.checkpointd.protocol.image.criu.SkInet.ip_opts_entry;
import io.checkpointd.protocol.image.criu.SkOpts.sk_opts_entry;
import io.checkpointd.protocol.image.criu.SkOpts.sk_shutdown;
import io.checkpointd.protocol.image.criu.TcpStream.tcp_opts_entry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code inet_sk_entry} of a TCP socket (CRIU's images/sk-inet.proto, MIT), filled the way CRIU 4.2's
 * {@code do_dump_one_inet_fd} fills it under {@code --tcp-close}: state, ports, addresses and queue length from
 * {@code sock_diag}, the file flags from fdinfo, the owner, {@code sk_opts_entry}, {@code ip_opts_entry} and
 * {@code tcp_opts_entry} from the options of a duplicate of the socket. Under {@code --tcp-close} CRIU saves no
 * TCP stream for a connected socket (its restore gives a closed socket), so neither does this. Without
 * {@code id} and {@code ns_id}, which the image patch assigns.
 */
final class InetEntry {
    private InetEntry() {
    }

    /** The entry of socket {@code s} (a duplicate), described by {@code sk}, with file flags {@code fileFlags}. */
    static inet_sk_entry of(FileDescriptor s, SockDiag.InetSock sk, int fileFlags) throws IOException, Unsupported {
        int family = sk.family();
        if (family == SockDiag.AF_INET6 && sk.srcPort() != 0 && needsScopeId(sk.src())) {
            throw new Unsupported("link-local IPv6 socket", "bound to " + java.util.Arrays.toString(sk.src()));
        }
        inet_sk_entry.Builder ie = inet_sk_entry.newBuilder()
                .setIno((int) sk.inode())
                .setFamily(family)
                .setType(SOCK_STREAM)
                .setProto(IPPROTO_TCP)
                .setState(sk.state())
                .setSrcPort(sk.srcPort())
                .setDstPort(sk.dstPort())
                .setFlags(fileFlags)
                .setBacklog(sk.wqueue()) // CRIU's "backlog" is idiag_wqueue, whatever the state
                .addAllSrcAddr(words(sk.src()))
                .addAllDstAddr(words(sk.dst()))
                .setFown(Fown.of(s))
                .setOpts(skOpts(s));
        if (family == SockDiag.AF_INET6) ie.setV6Only(intOpt(s, SOL_IPV6, IPV6_V6ONLY) != 0);
        ie.setIpOpts(ipOpts(s, family));
        if (sk.shutdown() != 0) ie.setShutdown(sk_shutdown.forNumber(sk.shutdown()));
        ie.setTcpOpts(tcpOpts(s));
        return ie.buildPartial();
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
    private static List<Integer> words(byte[] a) {
        List<Integer> w = new ArrayList<>(a.length / 4);
        for (int i = 0; i < a.length / 4; i++) {
            w.add((a[4 * i] & 0xff) | (a[4 * i + 1] & 0xff) << 8 | (a[4 * i + 2] & 0xff) << 16 | (a[4 * i + 3] & 0xff) << 24);
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
    private static sk_opts_entry skOpts(FileDescriptor s) throws IOException, Unsupported {
        if (SocketOptions.boundDeviceLength(s) > 0) throw new Unsupported("socket bound to a device", "SO_BINDTODEVICE set");
        if (SocketOptions.filterLength(s) > 0) throw new Unsupported("socket with a filter", "SO_GET_FILTER non-empty");
        long[] snd = timeval(s, SOL_SOCKET, SO_SNDTIMEO), rcv = timeval(s, SOL_SOCKET, SO_RCVTIMEO);
        sk_opts_entry.Builder o = sk_opts_entry.newBuilder()
                .setSoSndbuf(intOpt(s, SOL_SOCKET, SO_SNDBUF))
                .setSoRcvbuf(intOpt(s, SOL_SOCKET, SO_RCVBUF))
                .setSoSndTmoSec(snd[0])
                .setSoSndTmoUsec(snd[1])
                .setSoRcvTmoSec(rcv[0])
                .setSoRcvTmoUsec(rcv[1])
                .setReuseaddr(bool(s, SOL_SOCKET, SO_REUSEADDR))
                .setSoPriority(intOpt(s, SOL_SOCKET, SO_PRIORITY))
                .setSoRcvlowat(intOpt(s, SOL_SOCKET, SO_RCVLOWAT));
        int mark = intOpt(s, SOL_SOCKET, SO_MARK);
        if (mark != 0) o.setSoMark(mark);
        o.setSoDontroute(bool(s, SOL_SOCKET, SO_DONTROUTE))
                .setSoNoCheck(bool(s, SOL_SOCKET, SO_NO_CHECK))
                .setSoReuseport(bool(s, SOL_SOCKET, SO_REUSEPORT))
                .setSoBroadcast(bool(s, SOL_SOCKET, SO_BROADCAST))
                .setSoKeepalive(bool(s, SOL_SOCKET, SO_KEEPALIVE))
                .setSoOobinline(bool(s, SOL_SOCKET, SO_OOBINLINE) ? 1 : 0); // a uint32 in sk-opts.proto
        int[] linger = linger(s);
        if (linger[0] != 0) o.setSoLinger(linger[1]);
        o.setSoBufLock(intOpt(s, SOL_SOCKET, SO_BUF_LOCK)); // kernel >= 5.14 has it
        return o.build();
    }

    /** {@code ip_opts_entry} as CRIU's {@code dump_ip_opts} fills it for a TCP socket: only what is set. */
    private static ip_opts_entry ipOpts(FileDescriptor s, int family) throws IOException {
        ip_opts_entry.Builder o = ip_opts_entry.newBuilder();
        boolean freebind, pktinfo;
        int tos = 0, ttl = 0;
        if (family == SockDiag.AF_INET6) {
            freebind = bool(s, SOL_IPV6, IPV6_FREEBIND);
            pktinfo = bool(s, SOL_IPV6, IPV6_RECVPKTINFO);
        } else {
            freebind = bool(s, SOL_IP, IP_FREEBIND);
            pktinfo = bool(s, SOL_IP, IP_PKTINFO);
            tos = intOpt(s, SOL_IP, IP_TOS);
            ttl = intOpt(s, SOL_IP, IP_TTL);
        }
        if (freebind) o.setFreebind(true);
        if (pktinfo) o.setPktinfo(true);
        if (tos != 0) o.setTos(tos);
        if (ttl != 0) o.setTtl(ttl);
        return o.build();
    }

    /** {@code tcp_opts_entry} as CRIU's {@code dump_tcp_opts} fills it: each option only when non-zero. */
    private static tcp_opts_entry tcpOpts(FileDescriptor s) throws IOException {
        tcp_opts_entry.Builder o = tcp_opts_entry.newBuilder();
        if (intOpt(s, SOL_TCP, TCP_CORK) != 0) o.setCork(true);
        if (intOpt(s, SOL_TCP, TCP_NODELAY) != 0) o.setNodelay(true);
        int cnt = intOpt(s, SOL_TCP, TCP_KEEPCNT), idle = intOpt(s, SOL_TCP, TCP_KEEPIDLE), intvl = intOpt(s, SOL_TCP, TCP_KEEPINTVL);
        if (cnt != 0) o.setKeepcnt(cnt);
        if (idle != 0) o.setKeepidle(idle);
        if (intvl != 0) o.setKeepintvl(intvl);
        return o.build();
    }

    private static boolean bool(FileDescriptor s, int level, int name) throws IOException {
        return intOpt(s, level, name) != 0;
    }
}
