package io.checkpointd.bench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A NIO server from Maven Central for {@link ServerChurnBenchmark}: Netty's HTTP codec on Java NIO selectors (two
 * event loops, no native transport), keeping {@code GET /put?k=K&v=V} in memory and answering {@code GET /get?k=K}.
 * Takes the demo service's {@code --host H --port P --port-file F} and writes the port it listens on to F.
 */
public final class NettyHttpService {
    private static final Map<String, String> STORE = new ConcurrentHashMap<>();

    private NettyHttpService() {
    }

    public static void main(String[] args) throws Exception {
        String host = "127.0.0.1";
        int port = 0;
        Path portFile = null;
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--host" -> host = args[i + 1];
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--port-file" -> portFile = Path.of(args[i + 1]);
                default -> {
                    System.err.println("NettyHttpService: unknown option " + args[i]);
                    System.exit(2);
                }
            }
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(64 << 10), new Handler());
                    }
                }).bind(host, port).sync().channel();
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, Integer.toString(((InetSocketAddress) server.localAddress()).getPort()));
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE);
        }
        server.closeFuture().sync();
    }

    /** One request: put or get, answered and, unless the client keeps it alive, the connection closed. */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            QueryStringDecoder q = new QueryStringDecoder(req.uri());
            String k = first(q, "k");
            HttpResponseStatus status = HttpResponseStatus.OK;
            String body;
            if (q.path().equals("/put") && k != null && first(q, "v") != null) {
                STORE.put(k, first(q, "v"));
                body = "OK " + k;
            } else if (q.path().equals("/get") && k != null) {
                body = STORE.getOrDefault(k, "");
                if (!STORE.containsKey(k)) status = HttpResponseStatus.NOT_FOUND;
            } else {
                status = HttpResponseStatus.BAD_REQUEST;
                body = "use /put?k=K&v=V or /get?k=K";
            }
            FullHttpResponse resp = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            resp.headers().set(HttpHeaderNames.CONTENT_LENGTH, resp.content().readableBytes());
            boolean keepAlive = io.netty.handler.codec.http.HttpUtil.isKeepAlive(req);
            if (!keepAlive) resp.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            var f = ctx.writeAndFlush(resp);
            if (!keepAlive) f.addListener(ChannelFutureListener.CLOSE);
        }

        private static String first(QueryStringDecoder q, String name) {
            List<String> v = q.parameters().get(name);
            return v == null || v.isEmpty() ? null : v.get(0);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
