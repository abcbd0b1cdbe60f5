package io.checkpointd.demo;

import io.checkpointd.protocol.auth.ChannelKey;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** What a demo cluster prepares before it starts its daemons: their shared key, the primary's work dir, free ports. */
public final class ClusterSetup {
    private ClusterSetup() {
    }

    /** 32 random bytes in a file only its owner may read: created with those permissions, never readable by others. */
    public static Path writeKeyFile(Path file) throws IOException {
        byte[] key = new byte[ChannelKey.MIN_BYTES];
        new SecureRandom().nextBytes(key);
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(file, key);
        return file;
    }

    /**
     * A fresh CA and the certificates of primary, backup (primary too: it re-protects) and proxy in {@code dir}, as
     * {@code checkpointd certs} makes them.
     */
    public static void writeCertificates(Path dir) throws IOException {
        Files.createDirectories(dir);
        try {
            io.checkpointd.protocol.auth.DeploymentCa ca = io.checkpointd.protocol.auth.DeploymentCa.create("cluster", java.time.Duration.ofDays(1));
            ca.writeCa(dir);
            io.checkpointd.protocol.auth.DeploymentCa.write(dir, "primary", ca.issue("primary", java.util.EnumSet.of(io.checkpointd.protocol.auth.Role.PRIMARY)));
            io.checkpointd.protocol.auth.DeploymentCa.write(dir, "backup", ca.issue("backup",
                    java.util.EnumSet.of(io.checkpointd.protocol.auth.Role.BACKUP, io.checkpointd.protocol.auth.Role.PRIMARY)));
            io.checkpointd.protocol.auth.DeploymentCa.write(dir, "proxy", ca.issue("proxy", java.util.EnumSet.of(io.checkpointd.protocol.auth.Role.PROXY)));
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException("cannot make the cluster's certificates: " + e.getMessage(), e);
        }
    }

    /**
     * A fresh directory name for the primary's captures, {@code <prefix>-<uuid>}: in tmpfs ({@code /dev/shm}) where
     * there is one, else in {@code baseDir}. Not created; the cluster removes it at close.
     */
    public static Path captureWorkDir(Path baseDir, String prefix) {
        Path shm = Path.of("/dev/shm");
        return (Files.isDirectory(shm) ? shm : baseDir).resolve(prefix + "-" + UUID.randomUUID());
    }

    /** {@code n} distinct loopback ports that were free a moment ago (held together, then released). */
    public static int[] freePorts(int n) throws IOException {
        int[] ports = new int[n];
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                held.add(s);
                ports[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) s.close();
        }
        return ports;
    }
}
