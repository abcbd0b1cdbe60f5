package io.checkpointd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client side of one proxied connection: connects the upstream when the client arrives, forwards client bytes to the
 * service at once (input needs no output commit), and closes the upstream as soon as the client goes away.
 * The client channel starts with autoRead off and is only read once the upstream is there to take the bytes.
 */
final class ClientRelayHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(ClientRelayHandler.class);

    private final OutputCommitHandler output;
    private final UpstreamConnector connector;
    private final InetSocketAddress upstreamAddress;
    private Channel client;
    private Channel upstream;

    ClientRelayHandler(OutputCommitHandler output, UpstreamConnector connector, InetSocketAddress upstreamAddress) {
        this.output = output;
        this.connector = connector;
        this.upstreamAddress = upstreamAddress;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        client = ctx.channel();
        connector.connect(client, upstreamAddress, () -> new UpstreamHandler(output, this), this::upstreamConnected);
        ctx.fireChannelActive();
    }

    private void upstreamConnected(Channel channel) {
        upstream = channel;
        output.attachUpstream(channel);
        client.config().setAutoRead(true);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (upstream == null || !upstream.isActive()) {
            ReferenceCountUtil.release(msg); // the service is gone; its close is on its way to the client
            return;
        }
        upstream.write(msg, upstream.voidPromise());
        if (!upstream.isWritable()) {
            upstream.flush();
            // A slow service pushes back on the client instead of us buffering its input.
            if (!upstream.isWritable()) client.config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (upstream != null) upstream.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (upstream != null) upstream.close();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("client {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }

    /** Called by the upstream side when its writability changes. */
    void upstreamWritabilityChanged(boolean writable) {
        if (client != null && client.isActive()) client.config().setAutoRead(writable);
    }
}
