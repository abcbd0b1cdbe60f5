package io.checkpointd.image;

import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process {@link FdCaptureFidelityTest} dumps: first a selector with a listening socket and an outbound
 * connection (the base dump's fds), then, once {@code DIR/go} exists, new fds of every kind the engine captures —
 * IPv4 and IPv6 listeners, outbound and accepted connections with options set, registrations in the old selector,
 * a new selector (epoll + eventfd), an empty pipe, sockets in no TCP table (unbound, bound only, reset by the peer) — and the
 * base connection closed at both ends; it writes {@code DIR/ready1} and {@code DIR/ready2}
 * after each step and then idles in {@code select}.
 */
public final class FdChurnTarget {
    private FdChurnTarget() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Selector sel = Selector.open();
        ServerSocketChannel base = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        base.configureBlocking(false);
        base.register(sel, SelectionKey.OP_ACCEPT);
        SocketChannel toClose = SocketChannel.open(base.getLocalAddress());
        SocketChannel baseAccepted = base.accept();
        Files.writeString(dir.resolve("ready1"), "1");
        while (!Files.exists(dir.resolve("go"))) Thread.sleep(10);

        ServerSocketChannel v4 = ServerSocketChannel.open(java.net.StandardProtocolFamily.INET).bind(new InetSocketAddress("127.0.0.1", 0), 7);
        ServerSocketChannel v6 = ServerSocketChannel.open().bind(new InetSocketAddress("::1", 0));
        v6.setOption(StandardSocketOptions.SO_REUSEADDR, false);
        SocketChannel out4 = SocketChannel.open(v4.getLocalAddress());
        out4.setOption(StandardSocketOptions.TCP_NODELAY, true).setOption(StandardSocketOptions.SO_KEEPALIVE, true)
                .setOption(StandardSocketOptions.SO_LINGER, 3).setOption(StandardSocketOptions.SO_SNDBUF, 65536);
        SocketChannel in4 = v4.accept();
        in4.configureBlocking(false);
        in4.register(sel, SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        SocketChannel out6 = SocketChannel.open(v6.getLocalAddress());
        SocketChannel in6 = v6.accept();
        in6.shutdownOutput();
        out4.write(ByteBuffer.wrap("unread".getBytes()));
        Selector second = Selector.open();
        v6.configureBlocking(false);
        v6.register(second, SelectionKey.OP_ACCEPT);
        // in no sock_diag table: never bound or connected, bound only, and reset by its peer
        SocketChannel fresh = SocketChannel.open();
        SocketChannel boundOnly = SocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        SocketChannel resetter = SocketChannel.open(v4.getLocalAddress());
        SocketChannel reset = v4.accept();
        resetter.setOption(StandardSocketOptions.SO_LINGER, 0);
        resetter.close();
        try {
            while (reset.read(ByteBuffer.allocate(16)) >= 0) Thread.sleep(5); // until the RST is seen
        } catch (java.io.IOException expected) {
            // "Connection reset": the socket is closed now, its fd still open
        }
        java.nio.channels.Pipe pipe = java.nio.channels.Pipe.open(); // both ends, empty
        toClose.close(); // both ends: a base socket whose state changed would keep its base entry
        baseAccepted.close();
        Files.writeString(dir.resolve("ready2"), v4.socket().getLocalPort() + " " + v6.socket().getLocalPort());
        while (true) {
            sel.selectNow();
            sel.selectedKeys().clear();
            second.select(100);
            Thread.sleep(100);
            // every channel stays reachable (and so open) for as long as the process runs
            java.lang.ref.Reference.reachabilityFence(new Object[] {out6, in6, fresh, boundOnly, reset, pipe, in4, out4});
        }
    }
}
