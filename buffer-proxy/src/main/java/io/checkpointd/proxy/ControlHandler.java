package io.checkpointd.proxy;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.ProtocolException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies control requests (SEAL, RELEASE, GENERATION, PASSTHROUGH, HOLD) to the {@link OutputCommit} and answers each
 * with exactly one frame, in order; the connection that sealed last also hears OUTPUT_HELD, unsolicited. A refused
 * request changes nothing; a malformed frame drops only this connection.
 */
final class ControlHandler extends SimpleChannelInboundHandler<Frame> {
    private static final Logger LOG = LoggerFactory.getLogger(ControlHandler.class);

    private final OutputCommit commit;
    /** Set once a malformed frame dropped the connection: the decoder may fail again on close, log once. */
    private boolean dropped;
    /** Sends OUTPUT_HELD on this connection once it has sealed (see {@link OutputCommit#outputHeld}). */
    private java.util.function.LongConsumer watcher;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        watcher = epoch -> ctx.writeAndFlush(Frame.of(FrameType.OUTPUT_HELD, commit.generation(), epoch), ctx.voidPromise());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        commit.unwatch(watcher);
        ctx.fireChannelInactive();
    }

    ControlHandler(OutputCommit commit) {
        this.commit = commit;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Frame request) {
        Frame reply;
        try {
            reply = apply(request);
        } catch (RejectedRequest r) {
            commit.rejected();
            LOG.warn("control {}: rejected {}: {}", ctx.channel().remoteAddress(), request, r.getMessage());
            reply = new Frame(FrameType.CONTROL_REJECT, request.generation(), request.epoch(),
                    r.getMessage().getBytes(StandardCharsets.UTF_8));
        }
        // Flushed in channelReadComplete: pipelined releases are answered in one write.
        ctx.write(reply, ctx.voidPromise());
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (dropped) return;
        dropped = true;
        Throwable c = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        LOG.warn("control {}: dropping connection: {}", ctx.channel().remoteAddress(),
                c instanceof ProtocolException ? c.getMessage() : c.toString());
        ctx.close();
    }

    private Frame apply(Frame f) throws RejectedRequest {
        long gen = f.generation();
        long epoch = f.epoch();
        switch (f.type()) {
            case SEAL -> {
                commit.seal(gen, epoch, watcher);
                return Frame.of(FrameType.SEALED, gen, epoch);
            }
            case RELEASE -> commit.release(gen, epoch);
            case GENERATION -> commit.newGeneration(gen, parseUpstream(f.payload()));
            case PASSTHROUGH -> commit.passthrough(gen);
            case HOLD -> commit.hold(gen);
            default -> throw new RejectedRequest(f.type() + " is not a control request");
        }
        return Frame.of(FrameType.CONTROL_OK, gen, epoch);
    }

    /** "host:port" or "[v6]:port". IP literals are resolved here; names are left to the connect (see notes). */
    static InetSocketAddress parseUpstream(byte[] payload) throws RejectedRequest {
        String s;
        try {
            s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(payload)).toString();
        } catch (CharacterCodingException e) {
            throw new RejectedRequest("upstream address is not UTF-8");
        }
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) throw new RejectedRequest("upstream '" + s + "' is not host:port");
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new RejectedRequest("upstream '" + s + "' has a bad port");
        }
        if (port < 1 || port > 65535 || host.isEmpty()) throw new RejectedRequest("upstream '" + s + "' is out of range");
        byte[] ip = NetUtil.createByteArrayFromIpAddressString(host);
        if (ip == null) return InetSocketAddress.createUnresolved(host, port);
        try {
            return new InetSocketAddress(InetAddress.getByAddress(host, ip), port);
        } catch (UnknownHostException e) {
            throw new RejectedRequest("upstream '" + s + "': " + e.getMessage());
        }
    }
}
