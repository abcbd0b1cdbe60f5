package io.checkpointd.primary.ship;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.auth.AuthHandshake;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.Link;
import io.checkpointd.protocol.auth.FrameAuth;
import io.checkpointd.protocol.replication.Hello;
import io.checkpointd.protocol.replication.HelloOk;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.checkpointd.linux.ReplyPathPriority;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The primary's replication connection to the backup (Netty). Frames are encoded — compressed and checksummed —
 * on the sending thread, so the caller learns the compressed size and the event loop only writes bytes;
 * {@link #send} blocks while the channel is not writable (backpressure, never an unbounded queue).
 * Heartbeats go out on the event loop every interval, whatever the epoch thread is doing. With a {@link ChannelKey}
 * the connection opens with the {@link AuthHandshake}; frames are then signed in the pipeline, in wire order.
 */
public final class ReplicationClient implements AutoCloseable {
    /** What the backup says. Called on the event loop: implementations must not block for long. */
    public interface Listener {
        void acked(long generation, long epoch);

        void nacked(long epoch, String reason);

        void fenced(long fencedGeneration);

        void disconnected();
    }

    /** Unflushed bytes beyond this are flushed anyway: a long ship streams rather than piling up. */
    private static final int FLUSH_AT_LEAST = 1 << 20;

    private final EventLoopGroup group;
    private final Channel channel;
    private final long generation;
    private final FrameAuth auth;
    private final AtomicLong wireBytes = new AtomicLong();
    private final CompletableFuture<Frame> handshake = new CompletableFuture<>();
    private volatile Listener listener;
    private volatile long lastEpoch;
    /** Bytes written but not flushed yet (one sender thread at a time: the ship stage). */
    private long unflushed;

    private ReplicationClient(EventLoopGroup group, Channel channel, long generation, FrameAuth auth) {
        this.group = group;
        this.channel = channel;
        this.generation = generation;
        this.auth = auth;
    }

    /**
     * Connects, authenticates with {@code key} and performs the HELLO handshake.
     *
     * @throws FencedException if the backup has fenced this generation
     * @throws IOException if the backup is unreachable, refuses our key or does not answer
     */
    public static ReplicationClient connect(InetSocketAddress backup, ChannelKey key, Hello hello, Duration heartbeat,
                                            Duration timeout, Listener listener) throws IOException, InterruptedException {
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        group.next().execute(ReplyPathPriority::raise); // it writes every epoch and reads every ack (then releases)
        ReplicationClient[] self = new ReplicationClient[1];
        Bootstrap b = new Bootstrap().group(group).channel(epoll ? EpollSocketChannel.class : NioSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeout.toMillis())
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(4 << 20, 16 << 20))
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        AuthHandshake.install(ch.pipeline(), key, Link.REPLICATION, FrameAuth.Side.CLIENT);
                        ch.pipeline().addLast(new Inbound(self));
                    }
                });
        Channel ch;
        try {
            ch = b.connect(backup).sync().channel();
        } catch (Exception e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IOException("backup " + backup.getHostString() + ":" + backup.getPort() + " is unreachable: " + e.getMessage());
        }
        FrameAuth auth;
        try {
            auth = AuthHandshake.ready(ch).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            ch.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            String why = e instanceof ExecutionException ? e.getCause().getMessage() : "no answer within " + timeout.toMillis() + " ms";
            throw new IOException("backup " + backup.getHostString() + ":" + backup.getPort() + ": authentication failed: " + why);
        }
        ReplicationClient c = new ReplicationClient(group, ch, hello.generation(), auth);
        self[0] = c;
        c.listener = listener;
        c.send(new Frame(FrameType.HELLO, hello.generation(), 0, hello.encode()));
        Frame reply;
        try {
            reply = c.handshake.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            c.close();
            throw new IOException("backup " + backup + " did not answer the handshake: " + e.getMessage());
        }
        if (reply.type() == FrameType.FENCED) {
            c.close();
            throw new FencedException(reply.generation());
        }
        long ms = Math.max(1, heartbeat.toMillis());
        ch.eventLoop().scheduleAtFixedRate(() -> {
            if (ch.isActive()) ch.writeAndFlush(c.encode(Frame.of(FrameType.HEARTBEAT, c.generation, c.lastEpoch)));
        }, ms, ms, TimeUnit.MILLISECONDS);
        c.helloOk = HelloOk.decode(reply.payload());
        return c;
    }

    private volatile HelloOk helloOk;

    /** What the backup had committed when we connected. */
    public HelloOk helloOk() {
        return helloOk;
    }

    public boolean isConnected() {
        return channel.isActive();
    }

    /** Total bytes written to the wire (after compression). */
    public long wireBytes() {
        return wireBytes.get();
    }

    /**
     * Encodes and writes one frame; blocks while the connection is saturated.
     *
     * @return the frame's size on the wire
     */
    public int send(Frame f) throws IOException, InterruptedException {
        return send(f, true);
    }

    /**
     * As {@link #send(Frame)}, flushing the connection only if {@code flush}: a sender with more frames ready
     * flushes after the last of them, so they share system calls.
     */
    public int send(Frame f, boolean flush) throws IOException, InterruptedException {
        if (f.epoch() > lastEpoch && f.type() != FrameType.HELLO) lastEpoch = f.epoch();
        ByteBuf buf = encode(f);
        int n = buf.readableBytes();
        while (!channel.isWritable()) {
            if (unflushed > 0) { // what waits unflushed must go out, or the channel never becomes writable again
                channel.flush();
                unflushed = 0;
            }
            if (!channel.isActive()) {
                buf.release();
                throw new IOException("connection to the backup lost");
            }
            synchronized (this) {
                wait(5);
            }
        }
        if (!channel.isActive()) {
            buf.release();
            throw new IOException("connection to the backup lost");
        }
        unflushed += n;
        if (flush || unflushed >= FLUSH_AT_LEAST) {
            channel.writeAndFlush(buf);
            unflushed = 0;
        } else {
            channel.write(buf);
        }
        wireBytes.addAndGet(n);
        return n;
    }

    /** Waits up to {@code timeout} until every frame sent so far was written to the socket (a fault point's wait). */
    public void drain(Duration timeout) {
        channel.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).awaitUninterruptibly(timeout.toMillis());
    }

    /** Compressed and checksummed here; the pipeline's FrameEncoder signs it when it reaches the wire. */
    private ByteBuf encode(Frame f) {
        ByteBuf buf = channel.alloc().buffer(FrameCodec.HEADER + f.payload().length + FrameCodec.TRAILER + auth.macLength());
        FrameCodec.encodeUnsigned(f, buf, auth);
        return buf;
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(3, TimeUnit.SECONDS);
    }

    /** Thrown when the backup says this generation is fenced. */
    public static final class FencedException extends IOException {
        private static final long serialVersionUID = 1L;
        private final long fencedGeneration;

        public FencedException(long fencedGeneration) {
            super("this primary's generation is fenced by the backup (fenced up to generation " + fencedGeneration
                    + "): the backup has taken over");
            this.fencedGeneration = fencedGeneration;
        }

        public long fencedGeneration() {
            return fencedGeneration;
        }
    }

    private static final class Inbound extends SimpleChannelInboundHandler<Frame> {
        private final ReplicationClient[] self;

        Inbound(ReplicationClient[] self) {
            this.self = self;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, Frame f) {
            ReplicationClient c = self[0];
            if (c == null) return;
            if (!c.handshake.isDone()) {
                if (f.type() == FrameType.HELLO_OK || f.type() == FrameType.FENCED) c.handshake.complete(f);
                return;
            }
            Listener l = c.listener;
            switch (f.type()) {
                case ACK -> l.acked(f.generation(), f.epoch());
                case NACK -> l.nacked(f.epoch(), new String(f.payload(), StandardCharsets.UTF_8));
                case FENCED -> l.fenced(f.generation());
                default -> { }
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            ReplicationClient c = self[0];
            if (c != null) {
                synchronized (c) {
                    c.notifyAll();
                }
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            ReplicationClient c = self[0];
            if (c != null) {
                c.handshake.completeExceptionally(new IOException("connection closed"));
                if (c.listener != null) c.listener.disconnected();
                synchronized (c) {
                    c.notifyAll();
                }
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
