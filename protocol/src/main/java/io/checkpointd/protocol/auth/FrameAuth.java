package io.checkpointd.protocol.auth;

import io.checkpointd.protocol.ProtocolException;
import io.netty.buffer.ByteBuf;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * One connection's frame authentication: HMAC-SHA256, truncated to {@value #MAC_BYTES} bytes, over a frame's
 * header and wire payload, with a key per direction derived from the shared key and both sides' nonces
 * ({@link ChannelKey#connection}).
 *
 * <p>Each direction also counts its frames and MACs the count along (it is not sent: TCP delivers in order), so
 * a frame replayed, dropped or reordered within a connection fails like a forged one; per-connection keys make a
 * frame captured on one connection fail on every other; per-direction keys stop a frame being reflected back to its
 * sender.
 *
 * <p>Not thread-safe: {@link #sign} must be called in the order frames go on the wire (Netty: in the pipeline, see
 * {@link io.checkpointd.protocol.FrameEncoder}) and {@link #verify} in the order they arrive. {@link #NONE} is the
 * stateless plain-text instance.
 */
public final class FrameAuth {
    /** Length of the MAC appended to each frame. 128 bits: far beyond what an online forger can try. */
    public static final int MAC_BYTES = 16;
    /** No authentication (--insecure-plaintext): no MAC is written, and a frame carrying one is refused. */
    public static final FrameAuth NONE = new FrameAuth();

    /** Which end of a connection: the one that connected (client) or the one that accepted (server). */
    public enum Side { CLIENT, SERVER }

    private final Mac send;
    private final Mac receive;
    private long sent;
    private long received;

    private FrameAuth() {
        send = null;
        receive = null;
    }

    FrameAuth(byte[] sendKey, byte[] receiveKey) {
        send = hmac(sendKey);
        receive = hmac(receiveKey);
    }

    /** Whether frames carry a MAC. */
    public boolean authenticated() {
        return send != null;
    }

    /** Bytes of MAC per frame: {@value #MAC_BYTES}, or 0 for {@link #NONE}. */
    public int macLength() {
        return authenticated() ? MAC_BYTES : 0;
    }

    /** Appends to {@code buf} the MAC of its bytes {@code [from, from + length)} as the next frame sent. */
    public void sign(ByteBuf buf, int from, int length) {
        if (send == null) return;
        buf.writeBytes(mac(send, sent, buf, from, length), 0, MAC_BYTES);
        sent++;
    }

    /**
     * Checks that the {@value #MAC_BYTES} bytes at {@code macAt} are the MAC of {@code [from, from + length)} as the
     * next frame received.
     *
     * @throws ProtocolException if they are not: a stranger, a tampered, replayed or reordered frame
     */
    public void verify(ByteBuf buf, int from, int length, int macAt) throws ProtocolException {
        if (receive == null) return;
        byte[] expected = mac(receive, received, buf, from, length);
        byte[] actual = new byte[MAC_BYTES];
        buf.getBytes(macAt, actual);
        // constant time: a forger learns nothing from how long the comparison took
        if (!MessageDigest.isEqual(java.util.Arrays.copyOf(expected, MAC_BYTES), actual)) {
            throw new ProtocolException("bad MAC on frame " + received + " of this connection: not from our peer "
                    + "(wrong key, tampered, or replayed from another connection)");
        }
        received++;
    }

    private static byte[] mac(Mac mac, long seq, ByteBuf buf, int from, int length) {
        byte[] counter = new byte[8];
        for (int i = 0; i < 8; i++) counter[i] = (byte) (seq >>> (56 - 8 * i));
        mac.update(counter);
        mac.update(buf.nioBuffer(from, length));
        return mac.doFinal();
    }

    static Mac hmac(byte[] key) {
        try {
            Mac m = Mac.getInstance("HmacSHA256");
            m.init(new SecretKeySpec(key, "HmacSHA256"));
            return m;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JVM", e);
        }
    }

    @Override
    public String toString() {
        return authenticated() ? "FrameAuth(HMAC-SHA256/128, sent " + sent + ", received " + received + ")" : "FrameAuth.NONE";
    }
}
