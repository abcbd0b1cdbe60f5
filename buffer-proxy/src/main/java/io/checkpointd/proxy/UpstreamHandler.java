package io.checkpointd.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Service side of one proxied connection: every byte and the close go to the client's held output, never straight out. */
final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamHandler.class);

    private final OutputCommitHandler output;
    private final ClientRelayHandler relay;

    UpstreamHandler(OutputCommitHandler output, ClientRelayHandler relay) {
        this.output = output;
        this.relay = relay;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof ByteBuf buf) {
            output.hold(buf);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        output.holdClose();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        relay.upstreamWritabilityChanged(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("upstream {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close(); // channelInactive queues the close behind the output already held
    }
}
