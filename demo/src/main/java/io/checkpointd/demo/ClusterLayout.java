package io.checkpointd.demo;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a {@link Cluster}'s files are and which loopback ports its daemons listen on; fixed when it is created.
 *
 * @param workDir     the primary's captures: tmpfs, one per cluster, removed at close (a killed primary cannot)
 * @param spareRunDir the spare backup publishes into a run dir of its own, so "backup" status stays unambiguous
 */
record ClusterLayout(Cluster.Options opts, Path runDir, Path spareRunDir, Path logDir, Path storeDir, Path workDir,
                     Path keyFile, Path servicePortFile, int controlPort, int backupPort, int proxyPort, int sparePort) {

    /** A file of the cluster's TLS directory (ca.crt, ROLE.crt, ROLE.key) when it runs {@link Cluster.Options#withTls TLS}. */
    Path tlsFile(String name) {
        return opts.baseDir().resolve("tls").resolve(name);
    }

    /** The options that authenticate the daemon of {@code role} ("primary", "backup", "proxy"). */
    java.util.List<String> authArgs(String role) {
        if (!opts.tls()) {
            // the proxy holds only its derived key, which opens the control port and not the replication port
            Path key = role.equals("proxy") ? keyFile.resolveSibling("proxy.key") : keyFile;
            return java.util.List.of("--auth-key", key.toString());
        }
        return java.util.List.of("--tls-cert", tlsFile(role + ".crt").toString(), "--tls-key", tlsFile(role + ".key").toString(),
                "--tls-ca", tlsFile("ca.crt").toString());
    }

    /** Creates the directories and the key file under {@code opts.baseDir()} and picks the ports. */
    static ClusterLayout create(Cluster.Options opts) throws IOException {
        Path base = opts.baseDir();
        Path runDir = Files.createDirectories(base.resolve("run"));
        Path logDir = Files.createDirectories(base.resolve("logs"));
        Path spareRunDir = Files.createDirectories(base.resolve("run-spare"));
        Path keyFile = ClusterSetup.writeKeyFile(base.resolve("auth.key"));
        Files.deleteIfExists(base.resolve("proxy.key"));
        io.checkpointd.protocol.auth.ChannelKey.load(keyFile).writeProxyKey(base.resolve("proxy.key"));
        if (opts.tls()) ClusterSetup.writeCertificates(base.resolve("tls"));
        int[] ports = ClusterSetup.freePorts(4);
        return new ClusterLayout(opts, runDir, spareRunDir, logDir, base.resolve("store"),
                ClusterSetup.captureWorkDir(base, "checkpointd-cluster"), keyFile, base.resolve("service.port"),
                ports[0], ports[1], ports[2], ports[3]);
    }
}
