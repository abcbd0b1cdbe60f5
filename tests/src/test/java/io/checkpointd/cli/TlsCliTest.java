package io.checkpointd.cli;

import static io.checkpointd.cli.CliInputTest.assertUsageError;
import static io.checkpointd.cli.CliInputTest.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.protocol.auth.DeploymentCa;
import io.checkpointd.protocol.auth.Role;
import io.checkpointd.protocol.auth.TlsIdentity;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code checkpointd certs} and the TLS options: the files it writes load as each role, and every bad, missing,
 * expired, foreign or wrong-role file stops a daemon with one line and exit 2.
 */
class TlsCliTest {
    @TempDir
    Path tmp;

    @Test
    void certsWritesACaAndOneCertificatePerRoleThatLoad() throws Exception {
        Path dir = tmp.resolve("certs");
        CliInputTest.Run r = cli("certs", "--out", dir.toString(), "--name", "shop");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("proxy.crt  roles proxy").contains("backup.crt  roles primary, backup");
        for (String f : List.of("ca.key", "primary.key", "backup.key", "proxy.key", "arbiter.key")) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(f)))).as(f).isEqualTo("rw-------");
        }
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir))).isEqualTo("rwx------");
        for (String role : List.of("primary", "backup", "proxy", "arbiter")) {
            TlsIdentity id = TlsIdentity.load(dir.resolve(role + ".crt"), dir.resolve(role + ".key"), dir.resolve("ca.crt"));
            assertThat(id.roles()).contains(Role.ofLabel(role));
            assertThat(id.subject()).contains("CN=shop-" + role);
        }
        // never overwrites
        assertUsageError(cli("certs", "--out", dir.toString()), "already exists");
        assertUsageError(cli("certs", "--out", tmp.resolve("x").toString(), "--days", "0"), "--days");
        assertUsageError(cli("certs", "--out", tmp.resolve("y").toString(), "--dns", "nobody=host"), "ROLE=HOST");
    }

    @Test
    void badTlsFilesStopEveryDaemonWithOneLine() throws Exception {
        Path dir = tmp.resolve("certs");
        assertThat(cli("certs", "--out", dir.toString()).code()).isZero();
        Path ca = dir.resolve("ca.crt");
        Path garbage = Files.writeString(tmp.resolve("garbage.pem"), "not a certificate\n");
        Path openKey = Files.copy(dir.resolve("proxy.key"), tmp.resolve("open.key"));
        Files.setPosixFilePermissions(openKey, PosixFilePermissions.fromString("rw-r--r--"));
        // an expired certificate and one of another CA
        DeploymentCa other = DeploymentCa.create("other", Duration.ofDays(1));
        Path foreign = tmp.resolve("foreign");
        Files.createDirectories(foreign);
        DeploymentCa.write(foreign, "proxy", other.issue("proxy", EnumSet.of(Role.PROXY)));
        Instant now = Instant.now();
        DeploymentCa.write(foreign, "expired", other.issue("old", EnumSet.of(Role.PROXY), List.of(), now.minus(Duration.ofDays(9)),
                now.minus(Duration.ofDays(2))));

        for (List<String> d : daemonsWithRoles()) {
            String role = d.get(0);
            List<String> base = d.subList(1, d.size());
            String crt = dir.resolve(role + ".crt").toString(), key = dir.resolve(role + ".key").toString();
            assertUsageError(run(base, "--tls-cert", crt), "all three of --tls-cert, --tls-key and --tls-ca");
            assertUsageError(run(base, "--tls-cert", crt, "--tls-key", key, "--tls-ca", ca.toString(), "--insecure-plaintext"), "not several");
            assertUsageError(run(base, "--tls-cert", tmp.resolve("missing.crt").toString(), "--tls-key", key, "--tls-ca", ca.toString()),
                    "missing.crt does not exist");
            assertUsageError(run(base, "--tls-cert", garbage.toString(), "--tls-key", key, "--tls-ca", ca.toString()), "holds no PEM certificate");
            assertUsageError(run(base, "--tls-cert", crt, "--tls-key", key, "--tls-ca", garbage.toString()), "--tls-ca", "holds no PEM certificate");
            Path crtAsKey = tmp.resolve(role + "-crt-as.key");
            Files.deleteIfExists(crtAsKey);
            Files.copy(Path.of(crt), crtAsKey);
            Files.setPosixFilePermissions(crtAsKey, PosixFilePermissions.fromString("rw-------"));
            assertUsageError(run(base, "--tls-cert", crt, "--tls-key", crtAsKey.toString(), "--tls-ca", ca.toString()), "holds no PEM private key");
            assertUsageError(run(base, "--tls-cert", crt, "--tls-key", openKey.toString(), "--tls-ca", ca.toString()), "chmod 600");
            assertUsageError(run(base, "--tls-cert", crt, "--tls-key", dir.resolve("arbiter.key").toString(), "--tls-ca", ca.toString()),
                    "is not the private key of certificate");
            assertUsageError(run(base, "--tls-cert", foreign.resolve("proxy.crt").toString(), "--tls-key",
                    foreign.resolve("proxy.key").toString(), "--tls-ca", ca.toString()), "is not signed by the --tls-ca");
            assertUsageError(run(base, "--tls-cert", foreign.resolve("expired.crt").toString(), "--tls-key",
                    foreign.resolve("expired.key").toString(), "--tls-ca", foreign.resolve("proxy.crt").toString()), "expired on");
            // a certificate of another role: the proxy's for protect and backup, the arbiter's for the proxy
            String wrong = role.equals("proxy") ? "arbiter" : "proxy";
            assertUsageError(run(base, "--tls-cert", dir.resolve(wrong + ".crt").toString(), "--tls-key", dir.resolve(wrong + ".key").toString(),
                    "--tls-ca", ca.toString()), "has role " + wrong, "needs a certificate of role " + (role.equals("primary") ? "primary" : role));
        }
        // the right files get protect past the check, to the next problem
        assertUsageError(cli("protect", "999999999", "--backup", "127.0.0.1:7070", "--tls-cert", dir.resolve("primary.crt").toString(),
                "--tls-key", dir.resolve("primary.key").toString(), "--tls-ca", ca.toString()), "999999999");
        // a backup that re-protects protects the restored service with its own certificate: it must name primary too
        Path own = tmp.resolve("own");
        Files.createDirectories(own);
        DeploymentCa ownCa = DeploymentCa.create("own", Duration.ofDays(1));
        ownCa.writeCa(own);
        DeploymentCa.write(own, "backup", ownCa.issue("backup", EnumSet.of(Role.BACKUP)));
        assertUsageError(cli("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("s").toString(), "--reprotect-to", "127.0.0.1:7071",
                "--tls-cert", own.resolve("backup.crt").toString(), "--tls-key", own.resolve("backup.key").toString(),
                "--tls-ca", own.resolve("ca.crt").toString()), "--reprotect-to", "must also name the primary role");
    }

    @Test
    void proxyKeyDerivesAKeyThatOnlyTheProxyTakes() throws Exception {
        Path key = tmp.resolve("auth.key");
        byte[] b = new byte[32];
        new java.security.SecureRandom().nextBytes(b);
        Files.write(key, b);
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        Path proxyKey = tmp.resolve("proxy.key");
        CliInputTest.Run r = cli("proxy-key", "--auth-key", key.toString(), "--out", proxyKey.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(proxyKey))).isEqualTo("rw-------");
        assertUsageError(cli("proxy-key", "--auth-key", key.toString(), "--out", proxyKey.toString()), "already exists");
        assertUsageError(cli("proxy-key", "--auth-key", proxyKey.toString(), "--out", tmp.resolve("p2").toString()), "already a proxy key");
        // protect and backup refuse it
        for (List<String> d : daemonsWithRoles().subList(0, 2)) {
            assertUsageError(run(d.subList(1, d.size()), "--auth-key", proxyKey.toString()), "is the proxy's key", "deployment's key");
        }
    }

    private List<List<String>> daemonsWithRoles() {
        return List.of(List.of("primary", "protect", "999999999", "--backup", "127.0.0.1:7070"),
                List.of("backup", "backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("store").toString()),
                List.of("proxy", "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:7070", "--control", "127.0.0.1:0"));
    }

    private static CliInputTest.Run run(List<String> base, String... more) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of(more));
        return cli(args.toArray(new String[0]));
    }
}
