package io.checkpointd.proxy;

import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.auth.Link;
import io.checkpointd.protocol.auth.PreAuthGate;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The output-commit proxy: clients connect to {@link #listenAddress()}, their bytes go to the protected service,
 * and the service's output is held until the control port ({@link #controlAddress()}) releases its epoch.
 *
 * <p>Control, client and upstream channels all run on one event-loop thread, which makes a SEAL atomic with respect
 * to every upstream read without any locking. Thread-safe: {@link #stats()} and {@link #close()} may be called from
 * any thread.
 */
public final class BufferProxy implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BufferProxy.class);

    private final EventLoopGroup group;
    private final EventLoop loop;
    private final OutputCommit commit;
    private final Channel listener;
    private final Channel controlListener;
    private volatile boolean closed;

    private BufferProxy(EventLoopGroup group, OutputCommit commit, Channel listener, Channel controlListener) {
        this.group = group;
        this.loop = listener.eventLoop();
        this.commit = commit;
        this.listener = listener;
        this.controlListener = controlListener;
    }

    /** Binds the client and control ports and starts serving. */
    public static BufferProxy start(ProxyConfig config) throws IOException {
        Transport transport = Transport.select();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("checkpointd-proxy", true),
                transport.ioHandlerFactory());
        OutputCommit commit = new OutputCommit(config.initialGeneration(), config.upstream(),
                config.passthroughAtStart(), config.perConnectionCap(), config.totalCap());
        UpstreamConnector connector = new UpstreamConnector(transport, config.upstreamRetryWindow());
        try {
            Channel listener = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    // Nothing is read from a client until its upstream is connected to take it.
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            OutputCommitHandler output = new OutputCommitHandler(commit);
                            ch.pipeline().addLast("output-commit", output)
                                    .addLast("relay", new ClientRelayHandler(output, connector, commit.upstream()));
                        }
                    })
                    .bind(config.listen()).sync().channel();
            PreAuthGate preAuth = new PreAuthGate("the control port", config.preAuth());
            Channel control = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            AuthHandshake.install(ch.pipeline(), config.channelKey(), Link.CONTROL, FrameAuth.Side.SERVER);
                            preAuth.admit(ch);
                            ch.pipeline().addLast("control", new ControlHandler(commit));
                        }
                    })
                    .bind(config.control()).sync().channel();
            BufferProxy proxy = new BufferProxy(group, commit, listener, control);
            LOG.info("output-commit proxy on {} (control {}, {}) → {}, generation {}, {}, transport {}",
                    proxy.listenAddress(), proxy.controlAddress(), config.channelKey(), config.upstream(),
                    config.initialGeneration(), config.passthroughAtStart() ? "passthrough" : "holding output", transport.name());
            return proxy;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IOException("interrupted while starting the proxy", e);
        } catch (Exception e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IOException("cannot start proxy on " + config.listen() + " / control " + config.control()
                    + ": " + e.getMessage(), e);
        }
    }

    /** The bound client address (the real port when configured with port 0). */
    public InetSocketAddress listenAddress() {
        return (InetSocketAddress) listener.localAddress();
    }

    /** The bound control address. */
    public InetSocketAddress controlAddress() {
        return (InetSocketAddress) controlListener.localAddress();
    }

    /** Serves this proxy's figures as Prometheus metrics in {@code r} (see {@link ProxyMetrics}). */
    public void exposeMetrics(io.prometheus.metrics.model.registry.PrometheusRegistry r) {
        ProxyMetrics.register(r, this);
    }

    /** A consistent snapshot, taken on the event loop. */
    public ProxyStats stats() {
        if (loop.inEventLoop()) return commit.snapshot();
        if (closed) throw new IllegalStateException("proxy is closed");
        try {
            return loop.submit(commit::snapshot).get(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading stats", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot read proxy stats: " + e, e);
        }
    }

    /** Stops listening, drops every connection and its unreleased output, and stops the event loop. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        listener.close();
        controlListener.close();
        // Control connections close with the group; client connections are dropped explicitly so output is freed.
        loop.execute(commit::closeAll);
        // bounded: close() also runs in a shutdown hook, which must never hang the JVM's exit
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
