package io.checkpointd.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/** What the harnesses need to run daemons on loopback: free ports, an auth key file, readiness, ending by pid. */
final class LocalProcesses {
    private LocalProcesses() {
    }

    /** {@code n} distinct loopback ports free at the time of the call (all held at once, then released). */
    static int[] freePorts(int n) throws IOException {
        ServerSocket[] held = new ServerSocket[n];
        try {
            for (int i = 0; i < n; i++) held[i] = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
            return Arrays.stream(held).mapToInt(ServerSocket::getLocalPort).toArray();
        } finally {
            for (ServerSocket s : held) if (s != null) s.close();
        }
    }

    /** A fresh random 32-byte channel key in {@code file}, mode 0600 from its creation. */
    static Path writeKey(Path file) throws IOException {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        Files.deleteIfExists(file);
        Files.write(Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))), key);
        return file;
    }

    /**
     * Waits until {@code 127.0.0.1:port} accepts a connection: true then; false once {@code p} has exited or
     * {@code max} has passed. Polls every {@code pollMillis}.
     */
    static boolean awaitListening(int port, Process p, Duration max, long pollMillis) throws InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return true;
            } catch (IOException e) {
                if (!p.isAlive() || System.nanoTime() - deadline > 0) return false;
                Thread.sleep(pollMillis);
            }
        }
    }

    /** SIGTERM, then SIGKILL after 10 s; reaps it. */
    static void destroy(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor();
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
