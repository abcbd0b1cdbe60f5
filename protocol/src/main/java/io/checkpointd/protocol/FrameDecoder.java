package io.checkpointd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/** Netty stage: bytes → {@link Frame}s. A malformed frame fails the channel with a {@link ProtocolException}. */
public final class FrameDecoder extends ByteToMessageDecoder {
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        Frame f;
        while ((f = FrameCodec.decode(in)) != null) out.add(f);
    }
}
