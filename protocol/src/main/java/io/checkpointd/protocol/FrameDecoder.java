package io.checkpointd.protocol;

import io.checkpointd.protocol.auth.FrameAuth;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import java.util.Objects;

/**
 * Netty stage: bytes → {@link Frame}s, each verified against the connection's {@link FrameAuth}. A malformed or
 * unauthenticated frame fails the channel with one {@link ProtocolException}; whatever arrives after it is ignored.
 * One instance per channel (it holds the connection's receive counter).
 */
public final class FrameDecoder extends ByteToMessageDecoder {
    /**
     * Until one frame has been verified, a peer may not claim a bigger one: every conversation opens with a small
     * frame (HELLO, a control request, a reply), and a stranger must not make us buffer megabytes to find out.
     */
    static final int FIRST_FRAME_MAX_WIRE = 64 * 1024;

    private final FrameAuth auth;
    private boolean verified;
    private boolean failed;

    public FrameDecoder(FrameAuth auth) {
        this.auth = Objects.requireNonNull(auth, "auth");
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        try {
            Frame f;
            while ((f = FrameCodec.decode(in, auth, verified ? FrameCodec.MAX_WIRE : FIRST_FRAME_MAX_WIRE)) != null) {
                verified = true;
                out.add(f);
            }
        } catch (ProtocolException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            throw e;
        }
    }
}
