package io.checkpointd.protocol.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Set;
import javax.crypto.Mac;

/**
 * How a process authenticates its replication and control channels: {@link #tls TLS credentials} (a certificate
 * per role, the production default), a shared secret key that every checkpointd process of one protected service
 * (protect, backup, proxy) reads from a file, or, as an explicit opt-in for local demos,
 * {@link #insecurePlaintext() nothing}. Immutable; the secret never appears in {@link #toString()}.
 *
 * <p>Per connection, {@link #connection} derives the frame keys from the secret and both sides' nonces
 * (HKDF-style with HMAC-SHA256), so nothing captured on one connection verifies on another.
 */
public final class ChannelKey {
    /** Shortest accepted key: 256 bits. */
    public static final int MIN_BYTES = 32;
    /** Longest accepted key file: anything bigger is surely the wrong file. */
    public static final int MAX_BYTES = 4096;
    /** Length of each side's per-connection nonce. */
    public static final int NONCE_BYTES = 32;
    /** Length of {@link #keyId()}'s raw form, sent in the handshake to tell "wrong key" from "stranger". */
    public static final int KEY_ID_BYTES = 8;
    /** How to make a key, for messages. */
    public static final String HOW_TO_CREATE = "head -c 32 /dev/urandom > key; chmod 600 key";

    private static final ChannelKey PLAINTEXT = new ChannelKey((byte[]) null);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** First line of a proxy key file; the second is the control link's secret in hex. */
    public static final String PROXY_KEY_HEADER = "checkpointd proxy key v1";

    /** The deployment's key: opens both links. Null for plain text, TLS and a proxy key. */
    private final byte[] secret;
    /** The control link's secret: derived from {@link #secret}, or all a proxy key holds. */
    private final byte[] controlSecret;
    private final TlsIdentity tls;

    private ChannelKey(byte[] secret) {
        this.secret = secret;
        this.controlSecret = secret == null ? null : prf(secret, "checkpointd control link v1");
        this.tls = null;
    }

    private ChannelKey(TlsIdentity tls) {
        this.secret = null;
        this.controlSecret = null;
        this.tls = tls;
    }

    private ChannelKey(byte[] secret, byte[] controlSecret) {
        this.secret = secret;
        this.controlSecret = controlSecret;
        this.tls = null;
    }

    /**
     * The proxy's key: what opens the control link and nothing else, derived one way from this key (the proxy host,
     * facing the internet, never holds a key that could push images to the backup).
     */
    public ChannelKey proxyKey() {
        if (controlSecret == null) throw new IllegalStateException("no shared key to derive a proxy key from: " + this);
        return new ChannelKey(null, controlSecret.clone());
    }

    /** Whether this is a {@link #proxyKey() proxy key}: it opens only the control link. */
    public boolean controlOnly() {
        return secret == null && controlSecret != null;
    }

    /** Writes {@link #proxyKey()} to {@code file}, created mode 600; refuses to overwrite. */
    public void writeProxyKey(Path file) throws IOException {
        String text = PROXY_KEY_HEADER + "\n" + HexFormat.of().formatHex(proxyKey().controlSecret) + "\n";
        Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, text, StandardCharsets.US_ASCII);
    }

    /** TLS 1.3 with mutual authentication and roles from certificates, instead of a shared key. */
    public static ChannelKey tls(TlsIdentity identity) {
        return new ChannelKey(java.util.Objects.requireNonNull(identity, "identity"));
    }

    /** The TLS credentials, or null for a shared key or plain text. */
    public TlsIdentity tls() {
        return tls;
    }

    /** No authentication: anyone who can reach a port can drive it. For local demos only. */
    public static ChannelKey insecurePlaintext() {
        return PLAINTEXT;
    }

    /** A key from bytes (copied). @throws IllegalArgumentException if shorter than {@value #MIN_BYTES} bytes */
    public static ChannelKey of(byte[] secret) {
        if (secret.length < MIN_BYTES) {
            throw new IllegalArgumentException("the key has " + secret.length + " bytes; at least " + MIN_BYTES + " are needed");
        }
        return new ChannelKey(secret.clone());
    }

    /** A new random key (tests, demos). */
    public static ChannelKey random() {
        byte[] b = new byte[MIN_BYTES];
        RANDOM.nextBytes(b);
        return new ChannelKey(b);
    }

    /**
     * Reads a key file: its raw bytes are the key (any content: {@value #HOW_TO_CREATE} makes a good one).
     *
     * @throws KeyFileException naming the problem and the fix: missing, not a regular file, readable or writable by
     *                          group or others, shorter than {@value #MIN_BYTES} bytes or longer than {@value #MAX_BYTES}
     */
    public static ChannelKey load(Path file) throws KeyFileException {
        try {
            if (!Files.exists(file)) throw new NoSuchFileException(file.toString());
            if (!Files.isRegularFile(file)) {
                throw new KeyFileException("auth key " + file + " is not a regular file (create one with: " + HOW_TO_CREATE + ")");
            }
            // the target's permissions: a symlink's own are always 777 and mean nothing
            Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
            for (PosixFilePermission p : perms) {
                if (p != PosixFilePermission.OWNER_READ && p != PosixFilePermission.OWNER_WRITE && p != PosixFilePermission.OWNER_EXECUTE) {
                    // a key others can read is no secret, and one others can write is theirs
                    throw new KeyFileException("auth key " + file + " is accessible by group or others (" + mode(perms)
                            + "): run 'chmod 600 " + file + "'");
                }
            }
            long size = Files.size(file);
            if (size < MIN_BYTES || size > MAX_BYTES) {
                throw new KeyFileException("auth key " + file + " has " + size + " bytes; it needs " + MIN_BYTES + " to "
                        + MAX_BYTES + " random bytes (create one with: " + HOW_TO_CREATE + ")");
            }
            byte[] b = Files.readAllBytes(file);
            if (b.length < MIN_BYTES) throw new KeyFileException("auth key " + file + " shrank while being read");
            byte[] header = (PROXY_KEY_HEADER + "\n").getBytes(StandardCharsets.US_ASCII);
            if (b.length > header.length && Arrays.equals(b, 0, header.length, header, 0, header.length)) {
                String hex = new String(b, header.length, b.length - header.length, StandardCharsets.US_ASCII).strip();
                try {
                    byte[] control = HexFormat.of().parseHex(hex);
                    if (control.length == MIN_BYTES) return new ChannelKey(null, control);
                } catch (IllegalArgumentException e) {
                    // reported below
                }
                throw new KeyFileException("proxy key " + file + " is damaged: make it again with: checkpointd proxy-key --auth-key KEY --out FILE");
            }
            return new ChannelKey(b);
        } catch (NoSuchFileException e) {
            throw new KeyFileException("auth key " + file + " does not exist (create one with: " + HOW_TO_CREATE + ")");
        } catch (UnsupportedOperationException e) {
            throw new KeyFileException("auth key " + file + " is on a file system without POSIX permissions");
        } catch (KeyFileException e) {
            throw e;
        } catch (IOException e) {
            throw new KeyFileException("cannot read auth key " + file + ": " + e.getMessage());
        }
    }

    /** Whether channels are authenticated (false only for {@link #insecurePlaintext()}). */
    public boolean authenticated() {
        return secret != null || controlSecret != null || tls != null;
    }

    /** A short public fingerprint of the key, safe to log and to send: it tells a wrong key from a stranger. */
    public byte[] keyId() {
        return keyId(controlOnly() ? Link.CONTROL : Link.REPLICATION);
    }

    /**
     * The fingerprint sent on {@code link}: of the link's secret, or, when this key does not open the link (a proxy
     * key on the replication port), of what it does hold, so the other end can say whose key it is.
     */
    public byte[] keyId(Link link) {
        byte[] s = secret(link);
        if (s == null) s = controlSecret;
        if (s == null) return new byte[KEY_ID_BYTES];
        return Arrays.copyOf(prf(s, "checkpointd key id"), KEY_ID_BYTES);
    }

    /** Whether {@code peerKeyId} is the fingerprint of this deployment's proxy key (the control link's secret). */
    boolean isProxyKeyId(byte[] peerKeyId) {
        return controlSecret != null && java.security.MessageDigest.isEqual(
                Arrays.copyOf(prf(controlSecret, "checkpointd key id"), KEY_ID_BYTES), peerKeyId);
    }

    /** Whether this key opens {@code link}. */
    public boolean opens(Link link) {
        return tls != null || !authenticated() || secret(link) != null;
    }

    private byte[] secret(Link link) {
        return link == Link.CONTROL ? controlSecret : secret;
    }

    /** A fresh random nonce for one connection. */
    public byte[] newNonce() {
        byte[] n = new byte[NONCE_BYTES];
        RANDOM.nextBytes(n);
        return n;
    }

    /**
     * The frame authentication of one connection, as {@code side} sees it. Both sides compute the same two
     * direction keys from the secret and the two nonces; {@link #insecurePlaintext()} gives {@link FrameAuth#NONE}.
     */
    public FrameAuth connection(FrameAuth.Side side, byte[] clientNonce, byte[] serverNonce) {
        return connection(controlOnly() ? Link.CONTROL : Link.REPLICATION, side, clientNonce, serverNonce);
    }

    /** As {@link #connection(FrameAuth.Side, byte[], byte[])}, with {@code link}'s secret. */
    public FrameAuth connection(Link link, FrameAuth.Side side, byte[] clientNonce, byte[] serverNonce) {
        if (!authenticated() || tls != null) return FrameAuth.NONE;
        byte[] secret = secret(link);
        if (secret == null) throw new IllegalStateException("a proxy key does not open " + link.port());
        if (clientNonce.length != NONCE_BYTES || serverNonce.length != NONCE_BYTES) {
            throw new IllegalArgumentException("nonces must have " + NONCE_BYTES + " bytes");
        }
        // extract (a connection key from secret and nonces), then expand into one key per direction
        byte[] info = "checkpointd auth v1".getBytes(StandardCharsets.US_ASCII);
        Mac extract = FrameAuth.hmac(secret);
        extract.update(info);
        extract.update(clientNonce);
        extract.update(serverNonce);
        byte[] connection = extract.doFinal();
        byte[] toServer = prf(connection, "client to server");
        byte[] toClient = prf(connection, "server to client");
        return side == FrameAuth.Side.CLIENT ? new FrameAuth(toServer, toClient) : new FrameAuth(toClient, toServer);
    }

    private static byte[] prf(byte[] key, String label) {
        return FrameAuth.hmac(key).doFinal(label.getBytes(StandardCharsets.US_ASCII));
    }

    private static String mode(Set<PosixFilePermission> perms) {
        int m = 0;
        for (PosixFilePermission p : perms) m |= 1 << (8 - p.ordinal());
        return String.format("mode %03o", m);
    }

    @Override
    public String toString() {
        if (tls != null) return "ChannelKey(" + tls + ")";
        if (controlOnly()) return "ChannelKey(proxy key, id " + HexFormat.of().formatHex(keyId()) + ", control port only)";
        return secret == null ? "ChannelKey(insecure plaintext)" : "ChannelKey(id " + HexFormat.of().formatHex(keyId()) + ")";
    }

    /** A key file that cannot be used; the message names the problem and the fix. */
    public static final class KeyFileException extends IOException {
        private static final long serialVersionUID = 1L;

        public KeyFileException(String message) {
            super(message);
        }
    }
}
