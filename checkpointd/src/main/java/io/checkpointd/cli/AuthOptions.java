package io.checkpointd.cli;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.Role;
import io.checkpointd.protocol.auth.TlsIdentity;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * How protect, backup and proxy authenticate their channels; exactly one of:
 * {@code --tls-cert/--tls-key/--tls-ca} (TLS 1.3, mutual, a certificate per role: the production default),
 * {@code --auth-key FILE} (one shared key: small setups) or {@code --insecure-plaintext} (asked for by name, since an
 * unauthenticated channel lets anyone who reaches the port release held output or feed the backup).
 */
final class AuthOptions {
    private static final Logger log = LoggerFactory.getLogger(AuthOptions.class);

    @Option(names = "--tls-cert", paramLabel = "FILE",
            description = "PEM certificate of this process, signed by --tls-ca and naming its role "
                    + "(SAN URI checkpointd:role:primary|backup|proxy). Make a deployment's with: checkpointd certs --out DIR")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM private key of --tls-cert (unencrypted, mode 600)")
    Path tlsKey;

    @Option(names = "--tls-ca", paramLabel = "FILE",
            description = "PEM certificate of the deployment's CA: every peer's certificate must be signed by it")
    Path tlsCa;

    @Option(names = "--auth-key", paramLabel = "FILE",
            description = "instead of TLS: file with the key (>= 32 random bytes, mode 600) shared by protect and backup; "
                    + "the proxy takes the key 'checkpointd proxy-key' derives from it (it opens only the control port). "
                    + "Authenticates every replication and control frame. Create one with: " + ChannelKey.HOW_TO_CREATE)
    Path keyFile;

    @Option(names = "--insecure-plaintext",
            description = "run the replication and control channels unauthenticated: anyone who can reach the ports "
                    + "can drive them. For local demos only")
    boolean insecurePlaintext;

    /** Set by {@link #channelKey} for a proxy given the deployment's key rather than its own. */
    private boolean proxyHoldsFullKey;

    /** Logs the warning plain text deserves; call once the input is known good and the daemon starts. */
    void warnIfInsecure() {
        if (insecurePlaintext) {
            log.warn("--insecure-plaintext: replication and control channels are NOT authenticated; anyone who can reach "
                    + "their ports can release held output or feed the backup");
        } else if (proxyHoldsFullKey) {
            log.warn("the proxy holds the deployment's --auth-key, which also opens the backup's replication port; give it "
                    + "the key made by 'checkpointd proxy-key --auth-key KEY --out FILE' instead");
        } else if (keyFile != null) {
            log.info("--auth-key: primary and backup share one key (the proxy holds only its derived proxy key); "
                    + "--tls-cert/--tls-key/--tls-ca gives each role its own certificate");
        }
    }

    private boolean tls() {
        return tlsCert != null || tlsKey != null || tlsCa != null;
    }

    /** The same choice as command-line arguments, for a daemon this one starts (re-protection). */
    List<String> asArgs() {
        if (insecurePlaintext) return List.of("--insecure-plaintext");
        if (keyFile != null) return List.of("--auth-key", keyFile.toAbsolutePath().toString());
        List<String> a = new ArrayList<>();
        a.add("--tls-cert");
        a.add(tlsCert.toAbsolutePath().toString());
        a.add("--tls-key");
        a.add(tlsKey.toAbsolutePath().toString());
        a.add("--tls-ca");
        a.add(tlsCa.toAbsolutePath().toString());
        return a;
    }

    /**
     * The credentials to use as {@code role}; a {@link UsageException} (exit 2) for none, two kinds, an incomplete
     * TLS trio, a bad file, or a certificate that does not name {@code role}.
     */
    ChannelKey channelKey(Role role) {
        int kinds = (tls() ? 1 : 0) + (keyFile != null ? 1 : 0) + (insecurePlaintext ? 1 : 0);
        if (kinds > 1) throw new UsageException("give one of --tls-cert/--tls-key/--tls-ca, --auth-key or --insecure-plaintext, not several");
        if (kinds == 0) {
            throw new UsageException("the channels must be authenticated: pass --tls-cert FILE --tls-key FILE --tls-ca FILE "
                    + "(make them with: checkpointd certs --out DIR), or --auth-key FILE with a key shared by protect, backup "
                    + "and proxy (" + ChannelKey.HOW_TO_CREATE + "), or --insecure-plaintext for a local demo");
        }
        if (insecurePlaintext) return ChannelKey.insecurePlaintext();
        try {
            if (keyFile != null) {
                ChannelKey key = ChannelKey.load(keyFile);
                if (key.controlOnly() && role != Role.PROXY) {
                    throw new UsageException("--auth-key " + keyFile + " is the proxy's key (it opens only the control port); "
                            + "this command needs the deployment's key");
                }
                proxyHoldsFullKey = role == Role.PROXY && !key.controlOnly();
                return key;
            }
            if (tlsCert == null || tlsKey == null || tlsCa == null) {
                throw new UsageException("TLS needs all three of --tls-cert, --tls-key and --tls-ca");
            }
            TlsIdentity id = TlsIdentity.load(tlsCert, tlsKey, tlsCa);
            if (!id.roles().contains(role)) {
                throw new UsageException("--tls-cert " + tlsCert + " (" + id.subject() + ") has role " + Role.labels(id.roles())
                        + "; this command needs a certificate of role " + role.label());
            }
            return ChannelKey.tls(id);
        } catch (ChannelKey.KeyFileException e) {
            throw new UsageException(e.getMessage());
        }
    }
}
