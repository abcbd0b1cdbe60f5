package io.checkpointd.protocol.auth;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Accepts a peer's certificate only if it chains to the deployment's CA (the JDK's PKIX validation: signatures,
 * validity dates, CA constraints) and names a {@link Role} that may stand at the other end of the {@link Link}.
 * It runs inside the TLS handshake, so a refused peer never gets a frame read.
 *
 * <p>No host name is checked: the CA is the deployment's own and issues certificates only to its processes, so the
 * role is the identity that matters (a proxy certificate is refused on the replication port wherever it connects
 * from).
 */
final class RoleTrustManager extends X509ExtendedTrustManager {
    private final X509ExtendedTrustManager pkix;
    private final Link link;
    private final FrameAuth.Side side;
    private final Set<Role> allowed;

    RoleTrustManager(List<X509Certificate> cas, Link link, FrameAuth.Side side) throws GeneralSecurityException, java.io.IOException {
        KeyStore anchors = KeyStore.getInstance("PKCS12");
        anchors.load(null, null);
        for (int i = 0; i < cas.size(); i++) anchors.setCertificateEntry("ca-" + i, cas.get(i));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(anchors);
        X509ExtendedTrustManager found = null;
        for (TrustManager tm : tmf.getTrustManagers()) if (tm instanceof X509ExtendedTrustManager x) found = x;
        if (found == null) throw new GeneralSecurityException("no PKIX trust manager in this JVM");
        this.pkix = found;
        this.link = link;
        this.side = side;
        this.allowed = link.peerRoles(side);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        server();
        trusted(chain, () -> pkix.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        server();
        trusted(chain, () -> pkix.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        server();
        trusted(chain, () -> pkix.checkClientTrusted(chain, authType));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        client();
        trusted(chain, () -> pkix.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        client();
        trusted(chain, () -> pkix.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        client();
        trusted(chain, () -> pkix.checkServerTrusted(chain, authType));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return pkix.getAcceptedIssuers();
    }

    private interface Check {
        void run() throws CertificateException;
    }

    private void trusted(X509Certificate[] chain, Check pkixCheck) throws CertificateException {
        if (chain == null || chain.length == 0) throw new CertificateException("the peer sent no certificate");
        String who = TlsIdentity.subject(chain[0]);
        try {
            pkixCheck.run();
        } catch (CertificateException e) {
            throw new CertificateException("certificate " + who + " is not trusted: not signed by our --tls-ca, or expired ("
                    + rootMessage(e) + ")", e);
        }
        Set<Role> roles = Role.of(chain[0]);
        if (roles.stream().noneMatch(allowed::contains)) {
            String msg = side == FrameAuth.Side.SERVER
                    ? "certificate " + who + " has role " + Role.labels(roles) + "; only " + Role.labels(allowed) + " may connect to " + link.port()
                    : link.port() + " answered with certificate " + who + " of role " + Role.labels(roles) + "; expected " + Role.labels(allowed);
            throw new CertificateException(msg);
        }
    }

    private void server() throws CertificateException {
        if (side != FrameAuth.Side.SERVER) throw new CertificateException("a client-side trust manager was asked to check a client");
    }

    private void client() throws CertificateException {
        if (side != FrameAuth.Side.CLIENT) throw new CertificateException("a server-side trust manager was asked to check a server");
    }

    static String rootMessage(Throwable t) {
        Throwable r = t;
        while (r.getCause() != null && r.getCause() != r) r = r.getCause();
        return r.getMessage();
    }
}
