package io.checkpointd.protocol.auth;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;

/**
 * A process's TLS credentials: its certificate chain and key, and the deployment's CA that every peer's
 * certificate must be signed by. Every channel built from it is TLS 1.3 with both sides authenticated, and each
 * side checks the other's {@link Role} for the {@link Link} ({@link RoleTrustManager}).
 *
 * <p>{@link #load} checks what can be checked before the first connection (the files parse, the key matches the
 * certificate, the certificate is valid now, signed by the CA and names a role), so a daemon with bad files stops
 * at start with one line instead of failing every handshake.
 */
public final class TlsIdentity {
    /** TLS 1.3 only: no renegotiation, no legacy suites, an encrypted client certificate. */
    public static final String PROTOCOL = "TLSv1.3";
    /** Within this of expiry, loading logs a warning. */
    public static final Duration EXPIRY_WARNING = Duration.ofDays(30);

    private final X509Certificate[] chain;
    private final PrivateKey key;
    private final List<X509Certificate> cas;
    private final Set<Role> roles;
    private final Map<FrameAuth.Side, Map<Link, SSLContext>> contexts = new EnumMap<>(FrameAuth.Side.class);
    private final Map<FrameAuth.Side, Map<Link, SslContext>> nettyContexts = new EnumMap<>(FrameAuth.Side.class);

    private TlsIdentity(X509Certificate[] chain, PrivateKey key, List<X509Certificate> cas) {
        this.chain = chain;
        this.key = key;
        this.cas = cas;
        this.roles = Role.of(chain[0]);
    }

    /**
     * Loads and checks the PEM files.
     *
     * @param cert the certificate (and any intermediates), leaf first
     * @param key  its private key: unencrypted, not readable by group or others
     * @param ca   the deployment's CA certificate(s): the only issuers a peer's certificate may chain to
     * @throws ChannelKey.KeyFileException one line naming the file and the problem
     */
    public static TlsIdentity load(Path cert, Path key, Path ca) throws ChannelKey.KeyFileException {
        try {
            List<X509Certificate> chain = Pem.certificates("--tls-cert", cert);
            checkPrivate(key);
            PrivateKey pk = Pem.privateKey("--tls-key", key);
            List<X509Certificate> cas = Pem.certificates("--tls-ca", ca);
            return of(chain, pk, cas, cert.toString());
        } catch (ChannelKey.KeyFileException e) {
            throw e;
        } catch (IOException e) {
            throw new ChannelKey.KeyFileException(e.getMessage());
        }
    }

    /** Credentials from objects already in memory (tests, benchmarks); checked as {@link #load} checks them. */
    public static TlsIdentity of(List<X509Certificate> chain, PrivateKey key, List<X509Certificate> cas, String name)
            throws ChannelKey.KeyFileException {
        X509Certificate leaf = chain.get(0);
        Instant now = Instant.now();
        try {
            leaf.checkValidity(Date.from(now));
        } catch (CertificateExpiredException e) {
            throw new ChannelKey.KeyFileException("certificate " + name + " (" + subject(leaf) + ") expired on "
                    + leaf.getNotAfter().toInstant() + "; make new ones with: checkpointd certs --out DIR");
        } catch (CertificateNotYetValidException e) {
            throw new ChannelKey.KeyFileException("certificate " + name + " (" + subject(leaf) + ") is not valid before "
                    + leaf.getNotBefore().toInstant() + " (is this host's clock right?)");
        }
        if (!matches(key, leaf)) {
            throw new ChannelKey.KeyFileException("--tls-key is not the private key of certificate " + name + " (" + subject(leaf) + ")");
        }
        X509Certificate top = chain.get(chain.size() - 1);
        if (cas.stream().noneMatch(ca -> signedBy(top, ca))) {
            throw new ChannelKey.KeyFileException("certificate " + name + " (" + subject(leaf) + ") is not signed by the --tls-ca ("
                    + subject(cas.get(0)) + ")");
        }
        if (Role.of(leaf).isEmpty()) {
            throw new ChannelKey.KeyFileException("certificate " + name + " (" + subject(leaf) + ") names no role: it needs a SAN URI "
                    + Role.URI_PREFIX + "<primary|backup|proxy|arbiter> (make certificates with: checkpointd certs --out DIR)");
        }
        if (leaf.getNotAfter().toInstant().isBefore(now.plus(EXPIRY_WARNING))) {
            org.slf4j.LoggerFactory.getLogger(TlsIdentity.class).warn("certificate {} ({}) expires on {}: renew it",
                    name, subject(leaf), leaf.getNotAfter().toInstant());
        }
        return new TlsIdentity(chain.toArray(new X509Certificate[0]), key, List.copyOf(cas));
    }

    /** The roles this process's certificate names. */
    public Set<Role> roles() {
        return Set.copyOf(roles);
    }

    /** The certificate's subject, for logs. */
    public String subject() {
        return subject(chain[0]);
    }

    /** When the certificate expires. */
    public Instant notAfter() {
        return chain[0].getNotAfter().toInstant();
    }

    /** Netty's context for one end of {@code link}: TLS 1.3, the peer's certificate required and its role checked. */
    public synchronized SslContext netty(Link link, FrameAuth.Side side) {
        // one per end and link: building it costs far more than an engine, and a listener makes one per connection
        return nettyContexts.computeIfAbsent(side, s -> new EnumMap<>(Link.class)).computeIfAbsent(link, l ->
                new JdkSslContext(context(l, side), side == FrameAuth.Side.CLIENT, null, IdentityCipherSuiteFilter.INSTANCE,
                        null, ClientAuth.REQUIRE, new String[] {PROTOCOL}, false));
    }

    /**
     * Wraps a connected blocking socket as the client end of {@code link} and completes the handshake (within the
     * socket's read timeout); the server's role is checked, ours is checked by the server when it reads.
     */
    public SSLSocket clientSocket(Socket connected, InetSocketAddress peer, Link link) throws IOException {
        SSLSocket s = (SSLSocket) context(link, FrameAuth.Side.CLIENT).getSocketFactory()
                .createSocket(connected, peer.getHostString(), peer.getPort(), true);
        s.setEnabledProtocols(new String[] {PROTOCOL});
        s.setUseClientMode(true);
        s.startHandshake();
        return s;
    }

    synchronized SSLContext context(Link link, FrameAuth.Side side) {
        return contexts.computeIfAbsent(side, s -> new EnumMap<>(Link.class)).computeIfAbsent(link, l -> build(l, side));
    }

    private SSLContext build(Link link, FrameAuth.Side side) {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            char[] none = new char[0];
            ks.setKeyEntry("self", key, none, chain);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, none);
            SSLContext ctx = SSLContext.getInstance(PROTOCOL);
            ctx.init(kmf.getKeyManagers(), new TrustManager[] {new RoleTrustManager(cas, link, side)}, null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a TLS context for " + subject() + ": " + e.getMessage(), e);
        }
    }

    static String subject(X509Certificate c) {
        return c.getSubjectX500Principal().getName();
    }

    private static boolean signedBy(X509Certificate cert, X509Certificate ca) {
        if (!cert.getIssuerX500Principal().equals(ca.getSubjectX500Principal())) return false;
        try {
            cert.verify(ca.getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** Whether {@code key} signs what the certificate's public key verifies. */
    private static boolean matches(PrivateKey key, X509Certificate cert) {
        String alg = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            default -> key.getAlgorithm(); // Ed25519, Ed448
        };
        try {
            byte[] probe = "checkpointd key check".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** A private key others can read is no longer private: refused as ChannelKey refuses such a shared key. */
    private static void checkPrivate(Path key) throws IOException {
        if (!Files.exists(key)) throw new IOException("--tls-key " + key + " does not exist");
        try {
            for (PosixFilePermission p : Files.getPosixFilePermissions(key)) {
                if (p != PosixFilePermission.OWNER_READ && p != PosixFilePermission.OWNER_WRITE && p != PosixFilePermission.OWNER_EXECUTE) {
                    throw new ChannelKey.KeyFileException("--tls-key " + key + " is accessible by group or others: run 'chmod 600 " + key + "'");
                }
            }
        } catch (UnsupportedOperationException e) {
            throw new IOException("--tls-key " + key + " is on a file system without POSIX permissions");
        }
    }

    @Override
    public String toString() {
        return "TLS 1.3 as " + subject() + " (roles " + Role.labels(roles) + ")";
    }
}
