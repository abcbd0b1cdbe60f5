package io.checkpointd.image;

import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process {@link TcpStreamFidelityTest} reads: TCP connections (both ends in this process) whose repair state
 * covers what a stream image holds — bytes received and not read, a send queue the peer's full window holds back
 * (with window scaling), a half-closed IPv6 connection (FIN_WAIT2 and CLOSE_WAIT, with unread data), options set. It
 * writes {@code DIR/ready} and then idles; no socket sends after that.
 */
public final class TcpStreamTarget {
    private TcpStreamTarget() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        ServerSocketChannel v4 = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        SocketChannel c1 = SocketChannel.open(v4.getLocalAddress());
        c1.setOption(StandardSocketOptions.TCP_NODELAY, true).setOption(StandardSocketOptions.SO_KEEPALIVE, true);
        SocketChannel a1 = v4.accept();
        c1.write(ByteBuffer.wrap("request bytes the server has not read".getBytes()));
        a1.write(ByteBuffer.wrap("a reply the client has not read".getBytes()));

        // a sender whose peer never reads: the peer's window fills, the rest stays in the send queue
        v4.setOption(StandardSocketOptions.SO_RCVBUF, 32 * 1024);
        SocketChannel c2 = SocketChannel.open(v4.getLocalAddress());
        SocketChannel a2 = v4.accept();
        c2.configureBlocking(false);
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        long written = 0;
        for (int i = 0, idle = 0; idle < 50 && written < (64 << 20); i++) {
            for (int k = 0; k < chunk.capacity(); k++) chunk.put(k, (byte) (i * 31 + k));
            chunk.clear();
            int n = c2.write(chunk);
            written += n;
            if (n == 0) {
                idle++;
                Thread.sleep(10);
            }
        }

        ServerSocketChannel v6 = ServerSocketChannel.open().bind(new InetSocketAddress("::1", 0));
        SocketChannel c3 = SocketChannel.open(v6.getLocalAddress());
        SocketChannel a3 = v6.accept();
        c3.write(ByteBuffer.wrap("last words".getBytes()));
        c3.shutdownOutput(); // c3: FIN_WAIT2 once acked; a3: CLOSE_WAIT with the bytes unread
        Thread.sleep(200); // every ACK in
        Files.writeString(dir.resolve("ready"), Long.toString(written));
        while (true) {
            Thread.sleep(1000);
            java.lang.ref.Reference.reachabilityFence(new Object[] {c1, a1, c2, a2, c3, a3, v4, v6});
        }
    }
}
