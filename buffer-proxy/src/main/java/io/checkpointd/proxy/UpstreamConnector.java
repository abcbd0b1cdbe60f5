package io.checkpointd.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Connects a new client's upstream, retrying while the service refuses: during failover the restored service may
 * not listen yet, and a client that arrives then should wait a little rather than be turned away.
 */
final class UpstreamConnector {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamConnector.class);
    private static final long FIRST_BACKOFF_MS = 20;
    private static final long MAX_BACKOFF_MS = 500;

    private final Transport transport;
    private final Duration retryWindow;

    UpstreamConnector(Transport transport, Duration retryWindow) {
        this.transport = transport;
        this.retryWindow = retryWindow;
    }

    /**
     * Connects on the client's event loop (the proxy's only one). Gives up, closing the client, when the window is over
     * or the client has left.
     */
    void connect(Channel client, InetSocketAddress address, Supplier<ChannelHandler> handler,
                 Consumer<Channel> onConnected) {
        long deadline = System.nanoTime() + retryWindow.toNanos();
        attempt(client, address, handler, onConnected, deadline, FIRST_BACKOFF_MS);
    }

    private void attempt(Channel client, InetSocketAddress address, Supplier<ChannelHandler> handler,
                         Consumer<Channel> onConnected, long deadline, long backoffMs) {
        if (!client.isActive()) return;
        long leftMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
        ChannelFuture f = new Bootstrap().group(client.eventLoop()).channel(transport.socketChannel())
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(100, Math.min(leftMs, 5_000)))
                .handler(handler.get())
                .connect(address);
        f.addListener((ChannelFuture done) -> {
            if (done.isSuccess()) {
                if (client.isActive()) {
                    onConnected.accept(done.channel());
                } else {
                    done.channel().close();
                }
                return;
            }
            if (!client.isActive()) return;
            if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoffMs) - deadline < 0) {
                client.eventLoop().schedule(() -> attempt(client, address, handler, onConnected, deadline,
                        Math.min(backoffMs * 2, MAX_BACKOFF_MS)), backoffMs, TimeUnit.MILLISECONDS);
            } else {
                LOG.info("client {}: upstream {} unreachable for {} ms, closing: {}", client.remoteAddress(), address,
                        retryWindow.toMillis(), done.cause().toString());
                client.close();
            }
        });
    }
}
