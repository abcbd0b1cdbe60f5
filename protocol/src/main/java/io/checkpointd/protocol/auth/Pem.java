package io.checkpointd.protocol.auth;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Reading and writing the PEM files of {@code --tls-cert}, {@code --tls-key} and {@code --tls-ca} (BouncyCastle's
 * parser: PKCS#8, PKCS#1 and SEC1 keys alike). Every failure is an {@link IOException} with a one-line message
 * naming the file.
 */
final class Pem {
    /** Larger than any certificate chain or key a deployment uses: anything bigger is the wrong file. */
    static final long MAX_BYTES = 1 << 20;

    private Pem() {
    }

    /** Every certificate in {@code file}, in order; at least one. */
    static List<X509Certificate> certificates(String what, Path file) throws IOException {
        List<X509Certificate> certs = new ArrayList<>();
        try (PEMParser p = new PEMParser(open(what, file))) {
            Object o;
            while ((o = next(what, file, p)) != null) {
                if (o instanceof X509CertificateHolder h) {
                    certs.add(new JcaX509CertificateConverter().getCertificate(h));
                }
            }
        } catch (CertificateException e) {
            throw new IOException(what + " " + file + " holds a certificate Java cannot use: " + e.getMessage());
        }
        if (certs.isEmpty()) throw new IOException(what + " " + file + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        return certs;
    }

    /** The one unencrypted private key in {@code file}. */
    static PrivateKey privateKey(String what, Path file) throws IOException {
        try (PEMParser p = new PEMParser(open(what, file))) {
            Object o;
            while ((o = next(what, file, p)) != null) {
                if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                    throw new IOException(what + " " + file + " is encrypted; checkpointd needs an unencrypted key (mode 600)");
                }
                JcaPEMKeyConverter c = new JcaPEMKeyConverter();
                try {
                    if (o instanceof PrivateKeyInfo info) return c.getPrivateKey(info);
                    if (o instanceof PEMKeyPair pair) return c.getPrivateKey(pair.getPrivateKeyInfo());
                } catch (IOException | RuntimeException e) {
                    throw new IOException(what + " " + file + " holds a key Java cannot use: " + e.getMessage());
                }
            }
        }
        throw new IOException(what + " " + file + " holds no PEM private key (-----BEGIN PRIVATE KEY-----)");
    }

    /** PEM text of certificates or keys (what {@code checkpointd certs} writes). */
    static String encode(Object... objects) throws IOException {
        java.io.StringWriter w = new java.io.StringWriter();
        try (JcaPEMWriter pw = new JcaPEMWriter(w)) {
            for (Object o : objects) {
                // keys as PKCS#8 (BEGIN PRIVATE KEY): what OpenSSL 3, Netty and most tools read by default
                if (o instanceof PrivateKey k) pw.writeObject(new JcaPKCS8Generator(k, null));
                else pw.writeObject(o);
            }
        }
        return w.toString();
    }

    private static Object next(String what, Path file, PEMParser p) throws IOException {
        try {
            return p.readObject();
        } catch (IOException | RuntimeException e) {
            throw new IOException(what + " " + file + " is not valid PEM: " + e.getMessage());
        }
    }

    private static Reader open(String what, Path file) throws IOException {
        if (!Files.exists(file)) throw new IOException(what + " " + file + " does not exist");
        if (!Files.isRegularFile(file)) throw new IOException(what + " " + file + " is not a regular file");
        if (Files.size(file) > MAX_BYTES) throw new IOException(what + " " + file + " is larger than " + MAX_BYTES + " bytes: not a PEM file");
        try {
            return Files.newBufferedReader(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IOException("cannot read " + what + " " + file + ": " + e.getMessage());
        }
    }
}
