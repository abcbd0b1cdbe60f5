package io.checkpointd.linux.net;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.linux.FileDescriptor;
import io.checkpointd.linux.Syscalls;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * This JVM's own sockets as {@code sock_diag} and a {@code pidfd_getfd} duplicate see them: the states, ports and
 * addresses Java reports, and the options Java set. Needs no privilege (the JVM's own network namespace and
 * process).
 */
class SockDiagTest {
    @Test
    void listeningAndConnectedSocketsOfBothFamilies() throws Exception {
        try (ServerSocketChannel v4 = ServerSocketChannel.open(StandardProtocolFamily.INET).bind(new InetSocketAddress("127.0.0.1", 0), 9);
             ServerSocketChannel v6 = ServerSocketChannel.open(StandardProtocolFamily.INET6).bind(new InetSocketAddress("::1", 0));
             SocketChannel out = SocketChannel.open(v6.getLocalAddress());
             SocketChannel in = v6.accept()) {
            Map<Long, SockDiag.InetSock> tcp = SockDiag.tcp();
            SockDiag.InetSock l4 = tcp.get(inodeOfPort(v4.socket().getLocalPort(), tcp, SockDiag.TCP_LISTEN));
            assertThat(l4.family()).isEqualTo(SockDiag.AF_INET);
            assertThat(l4.src()).isEqualTo(InetAddress.getByName("127.0.0.1").getAddress());
            assertThat(l4.wqueue()).as("a listener's backlog").isEqualTo(9);
            int port6 = v6.socket().getLocalPort(), outPort = out.socket().getLocalPort();
            SockDiag.InetSock o = tcp.values().stream().filter(s -> s.srcPort() == outPort).findFirst().orElseThrow();
            assertThat(o.state()).isEqualTo(SockDiag.TCP_ESTABLISHED);
            assertThat(o.family()).isEqualTo(SockDiag.AF_INET6);
            assertThat(o.dstPort()).isEqualTo(port6);
            assertThat(o.dst()).isEqualTo(InetAddress.getByName("::1").getAddress());
            assertThat(o.inode()).as("its inode is what /proc/self/fd names").isIn(socketInodes().values());
        }
    }

    @Test
    void optionsReadOnADuplicateAreTheOnesSet() throws Exception {
        try (ServerSocketChannel l = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel out = SocketChannel.open(l.getLocalAddress());
             SocketChannel in = l.accept()) {
            out.setOption(StandardSocketOptions.TCP_NODELAY, true).setOption(StandardSocketOptions.SO_KEEPALIVE, true)
                    .setOption(StandardSocketOptions.SO_LINGER, 7);
            long ino = SockDiag.tcp().values().stream().filter(s -> s.srcPort() == out.socket().getLocalPort()).findFirst().orElseThrow().inode();
            int fd = socketInodes().entrySet().stream().filter(e -> e.getValue() == ino).findFirst().orElseThrow().getKey();
            try (FileDescriptor pidfd = Syscalls.pidfdOpen((int) ProcessHandle.current().pid());
                 FileDescriptor dup = Syscalls.pidfdGetfd(pidfd, fd)) {
                assertThat(SocketOptions.intOpt(dup, SocketOptions.SOL_TCP, SocketOptions.TCP_NODELAY)).isEqualTo(1);
                assertThat(SocketOptions.intOpt(dup, SocketOptions.SOL_SOCKET, SocketOptions.SO_KEEPALIVE)).isEqualTo(1);
                assertThat(SocketOptions.linger(dup)).containsExactly(1, 7);
                assertThat(SocketOptions.intOpt(dup, SocketOptions.SOL_SOCKET, SocketOptions.SO_PROTOCOL)).isEqualTo(SocketOptions.IPPROTO_TCP);
                assertThat(SocketOptions.filterLength(dup)).isZero();
                assertThat(SocketOptions.boundDeviceLength(dup)).isZero();
                Object[] peer = SocketOptions.address(dup, true, SockDiag.AF_INET6); // Java's sockets are IPv6 (v4-mapped)
                assertThat(peer[0]).isEqualTo(l.socket().getLocalPort());
                assertThat(SocketOptions.tcpStateAndBackoff(dup)[0]).isEqualTo(SockDiag.TCP_ESTABLISHED);
            }
        }
    }

    /** A lookup by a socket's own tuple finds what the dump lists, for listeners and connections of every kind Java makes. */
    @Test
    void aLookupByTupleFindsWhatTheDumpLists() throws Exception {
        try (ServerSocketChannel v4 = ServerSocketChannel.open(StandardProtocolFamily.INET).bind(new InetSocketAddress("127.0.0.1", 0));
             ServerSocketChannel mapped = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             ServerSocketChannel any = ServerSocketChannel.open().bind(new InetSocketAddress(0));
             ServerSocketChannel v6 = ServerSocketChannel.open(StandardProtocolFamily.INET6).bind(new InetSocketAddress("::1", 0));
             SocketChannel a = SocketChannel.open(mapped.getLocalAddress());
             SocketChannel b = SocketChannel.open(v6.getLocalAddress());
             SocketChannel c = SocketChannel.open(StandardProtocolFamily.INET);
             SocketChannel a2 = mapped.accept();
             SocketChannel b2 = v6.accept()) {
            c.connect(v4.getLocalAddress());
            SocketChannel c2 = v4.accept();
            Map<Long, SockDiag.InetSock> dump = SockDiag.tcp();
            Map<Integer, Long> inodes = socketInodes();
            int compared = 0;
            try (FileDescriptor pidfd = Syscalls.pidfdOpen((int) ProcessHandle.current().pid())) {
                for (Map.Entry<Integer, Long> e : inodes.entrySet()) {
                    SockDiag.InetSock listed = dump.get(e.getValue());
                    if (listed == null) continue;
                    try (FileDescriptor dup = Syscalls.pidfdGetfd(pidfd, e.getKey())) {
                        int family = SocketOptions.intOpt(dup, SocketOptions.SOL_SOCKET, SocketOptions.SO_DOMAIN);
                        SockDiag.InetSock found = SockDiag.lookup(dup, family);
                        assertThat(found).as("fd %d %s", e.getKey(), listed).isNotNull();
                        assertThat(found.inode()).as("fd %d", e.getKey()).isEqualTo(listed.inode());
                        assertThat(found.state()).isEqualTo(listed.state());
                        assertThat(found.src()).isEqualTo(listed.src());
                        assertThat(found.dst()).isEqualTo(listed.dst());
                        assertThat(found.wqueue()).isEqualTo(listed.wqueue());
                        compared++;
                    }
                }
            }
            assertThat(compared).as("listeners and both ends of connections").isGreaterThanOrEqualTo(10);
            c2.close();
        }
    }

    private static long inodeOfPort(int port, Map<Long, SockDiag.InetSock> tcp, int state) {
        return tcp.values().stream().filter(s -> s.srcPort() == port && s.state() == state).findFirst().orElseThrow().inode();
    }

    /** fd → inode of every socket this process holds. */
    private static Map<Integer, Long> socketInodes() throws Exception {
        Map<Integer, Long> out = new java.util.HashMap<>();
        try (var ds = Files.newDirectoryStream(Path.of("/proc/self/fd"))) {
            for (Path p : ds) {
                String t;
                try {
                    t = Files.readSymbolicLink(p).toString();
                } catch (java.nio.file.NoSuchFileException gone) {
                    continue;
                }
                if (t.startsWith("socket:[")) out.put(Integer.parseInt(p.getFileName().toString()), Long.parseLong(t.substring(8, t.length() - 1)));
            }
        }
        return out;
    }
}
