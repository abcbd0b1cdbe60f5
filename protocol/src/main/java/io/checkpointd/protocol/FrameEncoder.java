package io.checkpointd.protocol;

import io.checkpointd.protocol.auth.FrameAuth;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import java.util.Objects;

/**
 * Netty stage: {@link Frame} → bytes, signed with the connection's {@link FrameAuth}. A {@link ByteBuf} written
 * through it must be one frame from {@link FrameCodec#encodeUnsigned} (compressed by the sender on its own thread):
 * it is signed here. Signing in the pipeline is what keeps the MAC counter in wire order whichever thread wrote.
 * One instance per channel.
 */
public final class FrameEncoder extends ChannelOutboundHandlerAdapter {
    private final FrameAuth auth;

    public FrameEncoder(FrameAuth auth) {
        this.auth = Objects.requireNonNull(auth, "auth");
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        ByteBuf buf;
        try {
            if (msg instanceof Frame f) {
                buf = ctx.alloc().buffer(FrameCodec.HEADER + f.payload().length + FrameCodec.TRAILER + auth.macLength());
                try {
                    FrameCodec.encode(f, buf, auth);
                } catch (RuntimeException e) {
                    buf.release();
                    throw e;
                }
            } else if (msg instanceof ByteBuf b) {
                buf = b;
                try {
                    FrameCodec.sign(b, auth);
                } catch (RuntimeException e) {
                    b.release();
                    throw e;
                }
            } else {
                ctx.write(msg, promise);
                return;
            }
        } catch (RuntimeException e) {
            promise.setFailure(e);
            return;
        }
        ctx.write(buf, promise);
    }
}
