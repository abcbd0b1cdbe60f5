package io.checkpointd.protocol.auth;

import io.checkpointd.protocol.FrameDecoder;
import io.checkpointd.protocol.FrameEncoder;
import io.checkpointd.protocol.ProtocolException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.security.cert.CertificateException;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The TLS start of a channel: Netty's {@link SslHandler} (TLS 1.3, both certificates checked by
 * {@link RoleTrustManager}), then, once the handshake succeeded, the frame codec without MACs (TLS already
 * authenticates every byte). A refused peer is logged in one line naming its certificate and the port, and
 * closed; nothing it sent reaches the frame decoder.
 */
final class TlsHandshake extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(TlsHandshake.class);
    /** Refusals logged by all listeners of this process: 20 lines per 10 s at most. */
    private static final LogLimiter LIMIT = new LogLimiter(20, 10, java.util.concurrent.TimeUnit.SECONDS);

    private final Link link;
    private final FrameAuth.Side side;
    private final Promise<FrameAuth> ready;

    private TlsHandshake(Link link, FrameAuth.Side side, Promise<FrameAuth> ready) {
        this.link = link;
        this.side = side;
        this.ready = ready;
    }

    static void install(ChannelPipeline pipeline, TlsIdentity identity, Link link, FrameAuth.Side side, Promise<FrameAuth> ready) {
        SslHandler tls = identity.netty(link, side).newHandler(pipeline.channel().alloc());
        // a server's deadline is its PreAuthGate's (which logs it, rate-limited); this is only a backstop there
        tls.setHandshakeTimeoutMillis((side == FrameAuth.Side.SERVER ? AuthHandshake.SERVER_BACKSTOP : AuthHandshake.TIMEOUT).toMillis());
        pipeline.addLast("tls", tls).addLast("tls-handshake", new TlsHandshake(link, side, ready));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (!(evt instanceof SslHandshakeCompletionEvent done)) {
            super.userEventTriggered(ctx, evt);
            return;
        }
        if (done.isSuccess()) {
            ChannelPipeline p = ctx.pipeline();
            p.addAfter(ctx.name(), "frame-decoder", new FrameDecoder(FrameAuth.NONE));
            p.addAfter("frame-decoder", "frame-encoder", new FrameEncoder(FrameAuth.NONE));
            ready.trySuccess(FrameAuth.NONE);
            return;
        }
        String why = reason(done.cause());
        if (side == FrameAuth.Side.SERVER && quiet(done.cause())) {
            // closed by the pre-authentication bounds (which log for themselves) or by the peer before a word
            log.debug("TLS handshake with {} on {} ended: {}", ctx.channel().remoteAddress(), link.port(), why);
        } else if (side == FrameAuth.Side.SERVER && refusedByUs(done.cause())) {
            LIMIT.warn(log, "refused {} on {} ({}): {}", ctx.channel().remoteAddress(), link.port(), ctx.channel().localAddress(), why);
        } else if (side == FrameAuth.Side.SERVER) {
            LIMIT.warn(log, "TLS handshake with {} on {} ({}) failed: {}", ctx.channel().remoteAddress(), link.port(),
                    ctx.channel().localAddress(), why);
        } else {
            log.warn("TLS handshake with {} at {} failed: {}", link.port(), ctx.channel().remoteAddress(), why);
        }
        ready.tryFailure(new ProtocolException(why));
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (!hasSsl(cause)) {
            super.exceptionCaught(ctx, cause);
            return;
        }
        if (!ready.isDone()) {
            // the handshake's own failure is logged by userEventTriggered; make sure the waiter learns it
            ready.tryFailure(new ProtocolException(reason(cause)));
        } else if (ready.isSuccess()) {
            // TLS 1.3: a client's handshake is done before the server has checked its certificate, so a refusal
            // arrives as an alert on the first read
            log.warn("{} at {} ended the TLS session: {}", link.port(), ctx.channel().remoteAddress(), reason(cause));
        }
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        ready.tryFailure(new IOException("connection closed during the TLS handshake (is the peer using TLS, and does it trust our CA?)"));
        super.channelInactive(ctx);
    }

    private static boolean hasSsl(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) if (c instanceof SSLException) return true;
        return false;
    }

    /** The most telling message in a handshake failure: our trust manager's, else the deepest one. */
    static String reason(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof CertificateException && c.getMessage() != null) return c.getMessage();
        }
        String m = RoleTrustManager.rootMessage(t);
        if (m == null) return t.toString();
        // an alert received is the peer's verdict on us, not ours on it
        if (m.equals("Empty client certificate chain")) return "the peer sent no certificate signed by our --tls-ca";
        if (m.startsWith("Received fatal alert")) return "the peer ended the handshake (" + m + "): does it trust our CA and our role?";
        return m;
    }

    private static boolean quiet(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof java.nio.channels.ClosedChannelException || c instanceof io.netty.handler.ssl.SslHandshakeTimeoutException) return true;
        }
        return false;
    }

    private static boolean refusedByUs(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) if (c instanceof CertificateException) return true;
        return false;
    }
}
