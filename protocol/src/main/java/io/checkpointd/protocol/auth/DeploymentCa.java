package io.checkpointd.protocol.auth;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A deployment's own certificate authority (what {@code checkpointd certs} makes): an EC P-256 CA and, per role, a
 * certificate whose SAN URIs name its {@link Role roles}, usable as TLS client and server. BouncyCastle builds the
 * certificates; the keys are the JDK's.
 */
public final class DeploymentCa {
    /** The CA's lifetime by default. */
    public static final Duration CA_VALIDITY = Duration.ofDays(3650);
    /** A role certificate's lifetime by default. */
    public static final Duration CERT_VALIDITY = Duration.ofDays(825);
    private static final SecureRandom RANDOM = new SecureRandom();

    private final X509Certificate cert;
    private final PrivateKey key;

    private DeploymentCa(X509Certificate cert, PrivateKey key) {
        this.cert = cert;
        this.key = key;
    }

    /** A certificate and its key. */
    public record Issued(X509Certificate certificate, PrivateKey key) {
    }

    /** A new self-signed CA named {@code CN=name}, valid from now for {@code validity}. */
    public static DeploymentCa create(String name, Duration validity) throws GeneralSecurityException {
        KeyPair kp = newKey();
        X500Name subject = new X500Name("CN=" + name + ",O=checkpointd");
        Instant now = Instant.now();
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(subject, serial(), Date.from(now.minusSeconds(60)),
                    Date.from(now.plus(validity)), subject, kp.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
            return new DeploymentCa(sign(b, kp.getPrivate()), kp.getPrivate());
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot build the CA certificate: " + e.getMessage(), e);
        }
    }

    /** The CA certificate: what every process's {@code --tls-ca} names. */
    public X509Certificate certificate() {
        return cert;
    }

    /** A certificate for {@code CN=cn} naming {@code roles}, valid from now for {@link #CERT_VALIDITY}. */
    public Issued issue(String cn, Set<Role> roles) throws GeneralSecurityException {
        Instant now = Instant.now();
        return issue(cn, roles, List.of(), now.minusSeconds(60), now.plus(CERT_VALIDITY));
    }

    /**
     * A certificate for {@code CN=cn} naming {@code roles} (and, for operators' tools, {@code dnsNames}), valid
     * between the two instants (tests make expired ones).
     */
    public Issued issue(String cn, Set<Role> roles, List<String> dnsNames, Instant notBefore, Instant notAfter)
            throws GeneralSecurityException {
        KeyPair kp = newKey();
        List<GeneralName> names = new ArrayList<>();
        for (Role r : roles) names.add(new GeneralName(GeneralName.uniformResourceIdentifier, r.uri()));
        for (String d : dnsNames) names.add(new GeneralName(GeneralName.dNSName, d));
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(cert, serial(), Date.from(notBefore), Date.from(notAfter),
                    new X500Name("CN=" + cn + ",OU=" + roleLabels(roles) + ",O=checkpointd"), kp.getPublic())
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
                    .addExtension(Extension.extendedKeyUsage, false,
                            new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}))
                    .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names.toArray(new GeneralName[0])))
                    .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(cert))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
            return new Issued(sign(b, key), kp.getPrivate());
        } catch (IOException e) {
            throw new GeneralSecurityException("cannot build a certificate for " + cn + ": " + e.getMessage(), e);
        }
    }

    /** In-memory TLS credentials for {@code issued}, trusting this CA (tests, benchmarks). */
    public TlsIdentity identity(Issued issued) throws ChannelKey.KeyFileException {
        return TlsIdentity.of(List.of(issued.certificate()), issued.key(), List.of(cert), "(in memory)");
    }

    /** Writes {@code ca.crt} and {@code ca.key} (mode 600) into {@code dir}; refuses to overwrite. */
    public void writeCa(Path dir) throws IOException {
        writePublic(dir.resolve("ca.crt"), Pem.encode(cert));
        writePrivate(dir.resolve("ca.key"), Pem.encode(key));
    }

    /** Writes {@code name.crt} and {@code name.key} (mode 600) into {@code dir}; refuses to overwrite. */
    public static void write(Path dir, String name, Issued issued) throws IOException {
        writePublic(dir.resolve(name + ".crt"), Pem.encode(issued.certificate()));
        writePrivate(dir.resolve(name + ".key"), Pem.encode(issued.key()));
    }

    private static void writePublic(Path file, String pem) throws IOException {
        Files.writeString(file, pem, StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    }

    private static void writePrivate(Path file, String pem) throws IOException {
        // created 600 from the start: never readable by others, not even for an instant
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(file, pem, StandardCharsets.US_ASCII, StandardOpenOption.WRITE);
    }

    private static String roleLabels(Set<Role> roles) {
        return Role.labels(roles).replace(", ", " "); // "+" would make a multi-valued RDN
    }

    private static KeyPair newKey() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).add(BigInteger.ONE);
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws GeneralSecurityException {
        try {
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        } catch (OperatorCreationException e) {
            throw new GeneralSecurityException("cannot sign: " + e.getMessage(), e);
        }
    }
}
