package io.checkpointd.protocol.auth;

import io.checkpointd.protocol.Frame;
import io.checkpointd.protocol.FrameCodec;
import io.checkpointd.protocol.FrameDecoder;
import io.checkpointd.protocol.FrameEncoder;
import io.checkpointd.protocol.FrameType;
import io.checkpointd.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The start of every authenticated connection, and the one place that puts the frame codec into a pipeline.
 *
 * <p>At connect, each side sends one plain-text {@link FrameType#AUTH} frame — version, a fresh nonce, the key's
 * id — without waiting for the other; once it has the peer's, it derives the connection's {@link FrameAuth} from
 * the shared key and both nonces and from then on every frame, both ways, carries a MAC. Nothing in the AUTH
 * frames is secret or trusted: a forged nonce only yields keys the forger cannot use, and the key id only turns
 * "bad MAC" into the clearer "the peer has a different key".
 *
 * <p>With {@link TlsIdentity TLS credentials} {@link #install} puts TLS 1.3 in place of all this
 * ({@link TlsHandshake}).
 *
 * <p>Netty: {@link #install} adds this handler (or, for plain text, the codec directly) ahead of the application's
 * handlers; when the handshake is done it replaces itself with {@link FrameDecoder} and {@link FrameEncoder} and
 * completes {@link #ready}. Blocking sockets use {@link #blocking}.
 */
public final class AuthHandshake extends ByteToMessageDecoder {
    /** How long a peer may take to send its AUTH frame before the connection is dropped. */
    public static final Duration TIMEOUT = Duration.ofSeconds(10);
    /**
     * A server's deadline is its {@link PreAuthGate}'s (configurable up to {@link PreAuthLimits#MAX_DEADLINE}, and
     * logged there, rate-limited): the handshake's own timeout on a server is only a backstop above it.
     */
    static final Duration SERVER_BACKSTOP = Duration.ofSeconds(PreAuthLimits.MAX_DEADLINE_S + 5);
    static final int VERSION = 1;
    private static final int PAYLOAD = 1 + ChannelKey.NONCE_BYTES + ChannelKey.KEY_ID_BYTES;
    private static final AttributeKey<Future<FrameAuth>> READY = AttributeKey.valueOf("checkpointd.auth.ready");

    private final ChannelKey key;
    private final Link link;
    private final FrameAuth.Side side;
    private final byte[] nonce;
    private final Promise<FrameAuth> ready;
    private ScheduledFuture<?> timeout;
    private boolean started;
    private boolean failed;

    private AuthHandshake(ChannelKey key, Link link, FrameAuth.Side side, Promise<FrameAuth> ready) {
        this.key = key;
        this.link = link;
        this.side = side;
        this.nonce = key.newNonce();
        this.ready = ready;
    }

    /**
     * Adds the frame codec for {@code key} to a new channel's pipeline; add the application's handlers after it.
     * With a key or TLS the codec appears once the handshake is done; the application must not write before
     * {@link #ready} completes (servers only answer, so they never do). With TLS the peer's certificate must name
     * a role {@code link} admits at the other end ({@link Link#peerRoles}).
     */
    public static void install(ChannelPipeline pipeline, ChannelKey key, Link link, FrameAuth.Side side) {
        Channel ch = pipeline.channel();
        Promise<FrameAuth> ready = ch.eventLoop().newPromise();
        ch.attr(READY).set(ready);
        if (key.tls() != null) {
            TlsHandshake.install(pipeline, key.tls(), link, side, ready);
        } else if (!key.authenticated()) {
            pipeline.addLast("frame-decoder", new FrameDecoder(FrameAuth.NONE))
                    .addLast("frame-encoder", new FrameEncoder(FrameAuth.NONE));
            ready.setSuccess(FrameAuth.NONE);
        } else {
            pipeline.addLast("auth-handshake", new AuthHandshake(key, link, side, ready));
        }
    }

    /** Completes with the connection's {@link FrameAuth} once frames may be written; fails if the handshake did. */
    public static Future<FrameAuth> ready(Channel ch) {
        Future<FrameAuth> f = ch.attr(READY).get();
        if (f == null) throw new IllegalStateException("no AuthHandshake was installed on " + ch);
        return f;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) start(ctx);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        start(ctx);
        super.channelActive(ctx);
    }

    private void start(ChannelHandlerContext ctx) {
        if (started) return;
        started = true;
        ctx.writeAndFlush(Unpooled.wrappedBuffer(authFrame(key, link, nonce)));
        Duration limit = side == FrameAuth.Side.SERVER ? SERVER_BACKSTOP : TIMEOUT;
        timeout = ctx.executor().schedule(() -> {
            if (ready.isDone()) return;
            fail(ctx, new ProtocolException("no authentication from the peer within " + limit.toSeconds() + " s"));
            ctx.close();
        }, limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (failed) {
            in.skipBytes(in.readableBytes()); // the connection is being dropped: ignore whatever else arrives
            return;
        }
        FrameAuth auth;
        try {
            Frame f = FrameCodec.decodeAuth(in);
            if (f == null) return;
            auth = accept(key, link, side, nonce, f);
        } catch (ProtocolException e) {
            failed = true;
            in.skipBytes(in.readableBytes());
            ready.tryFailure(e);
            throw e;
        }
        if (timeout != null) timeout.cancel(false);
        ChannelPipeline p = ctx.pipeline();
        p.addAfter(ctx.name(), "frame-decoder", new FrameDecoder(auth));
        p.addAfter("frame-decoder", "frame-encoder", new FrameEncoder(auth));
        ready.setSuccess(auth);
        p.remove(this); // bytes after the AUTH frame are passed on to the frame decoder
    }

    private void fail(ChannelHandlerContext ctx, ProtocolException e) {
        failed = true;
        ready.tryFailure(e);
        ctx.fireExceptionCaught(e);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        ready.tryFailure(new IOException("connection closed during authentication (does the peer use the same --auth-key?)"));
        if (timeout != null) timeout.cancel(false);
        super.channelInactive(ctx);
    }

    /**
     * The handshake on a blocking socket: sends our AUTH frame, reads the peer's (within the socket's read timeout).
     *
     * @return {@link FrameAuth#NONE} at once for {@link ChannelKey#insecurePlaintext()}
     * @throws ProtocolException if the peer does not authenticate or has another key
     */
    public static FrameAuth blocking(InputStream in, OutputStream out, ChannelKey key, FrameAuth.Side side) throws IOException {
        return blocking(in, out, key, Link.REPLICATION, side);
    }

    /** As {@link #blocking(InputStream, OutputStream, ChannelKey, FrameAuth.Side)} on {@code link}. */
    public static FrameAuth blocking(InputStream in, OutputStream out, ChannelKey key, Link link, FrameAuth.Side side) throws IOException {
        if (key.tls() != null) throw new IllegalStateException("a TLS channel needs TlsIdentity.clientSocket, not the key handshake");
        if (!key.authenticated()) return FrameAuth.NONE;
        byte[] nonce = key.newNonce();
        out.write(authFrame(key, link, nonce));
        out.flush();
        DataInputStream data = new DataInputStream(in);
        byte[] header = new byte[FrameCodec.HEADER];
        data.readFully(header);
        ByteBuf buf = Unpooled.wrappedBuffer(header);
        if (FrameCodec.decodeAuth(buf) != null) throw new IllegalStateException("a header alone cannot be a frame");
        int length = FrameCodec.frameLength(buf, 0, PAYLOAD);
        byte[] frame = new byte[length];
        System.arraycopy(header, 0, frame, 0, header.length);
        data.readFully(frame, header.length, length - header.length);
        Frame f = FrameCodec.decodeAuth(Unpooled.wrappedBuffer(frame));
        return accept(key, link, side, nonce, f);
    }

    /** The AUTH frame, encoded: checksummed, not signed (there is no connection key yet). */
    static byte[] authFrame(ChannelKey key, byte[] nonce) {
        return authFrame(key, Link.REPLICATION, nonce);
    }

    static byte[] authFrame(ChannelKey key, Link link, byte[] nonce) {
        byte[] payload = ByteBuffer.allocate(PAYLOAD).put((byte) VERSION).put(nonce).put(key.keyId(link)).array();
        ByteBuf buf = Unpooled.buffer();
        FrameCodec.encode(new Frame(FrameType.AUTH, 0, 0, payload), buf, FrameAuth.NONE);
        byte[] b = new byte[buf.readableBytes()];
        buf.readBytes(b);
        return b;
    }

    /** Checks the peer's AUTH frame and derives the connection's frame keys. */
    static FrameAuth accept(ChannelKey key, FrameAuth.Side side, byte[] ourNonce, Frame peer) throws ProtocolException {
        return accept(key, Link.REPLICATION, side, ourNonce, peer);
    }

    static FrameAuth accept(ChannelKey key, Link link, FrameAuth.Side side, byte[] ourNonce, Frame peer) throws ProtocolException {
        byte[] p = peer.payload();
        if (p.length != PAYLOAD || p[0] != VERSION) {
            throw new ProtocolException("unsupported AUTH frame (version " + (p.length > 0 ? p[0] : -1) + ", " + p.length + " bytes)");
        }
        byte[] peerNonce = java.util.Arrays.copyOfRange(p, 1, 1 + ChannelKey.NONCE_BYTES);
        byte[] peerKeyId = java.util.Arrays.copyOfRange(p, 1 + ChannelKey.NONCE_BYTES, PAYLOAD);
        if (!key.opens(link)) throw new ProtocolException("this is a proxy key: it opens only the control port, not " + link.port());
        byte[] ours = key.keyId(link);
        if (!MessageDigest.isEqual(ours, peerKeyId) && link == Link.REPLICATION && key.isProxyKeyId(peerKeyId)) {
            throw new ProtocolException("the peer holds the proxy's key, which opens only the control port: only a primary "
                    + "may connect to " + link.port());
        }
        if (!MessageDigest.isEqual(ours, peerKeyId)) {
            throw new ProtocolException("the peer uses a different --auth-key (key id " + HexFormat.of().formatHex(peerKeyId)
                    + ", ours " + HexFormat.of().formatHex(ours) + ")");
        }
        if (MessageDigest.isEqual(ourNonce, peerNonce)) throw new ProtocolException("the peer echoed our nonce");
        return side == FrameAuth.Side.CLIENT ? key.connection(link, side, ourNonce, peerNonce) : key.connection(link, side, peerNonce, ourNonce);
    }
}
