package io.checkpointd.linux.criu;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;

/** Shared assumptions and helpers for the CRIU tests: a laptop without root or CRIU skips them. */
final class CriuTestSupport {
    private CriuTestSupport() {
    }

    static boolean isRoot() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) return line.split("\\s+")[2].equals("0"); // effective uid
            }
        } catch (IOException e) {
            return false;
        }
        return false;
    }

    /** Skips the test unless we are root on Linux and a usable CRIU is installed; else returns it. */
    static Criu assumeCriu() {
        assumeTrue(System.getProperty("os.name").equals("Linux"), "CRIU tests need Linux");
        assumeTrue(isRoot(), "CRIU tests need root");
        Criu criu = null;
        String why = null;
        try {
            criu = Criu.locate();
        } catch (CriuUnavailableException e) {
            why = e.getMessage();
        }
        String reason = why;
        assumeTrue(criu != null, () -> "CRIU tests need CRIU >= 4.2: " + reason);
        return criu;
    }

    /** {@code setsid java ... CounterService <portFile>}, stdio on /dev/null, so CRIU needs no --shell-job. */
    static Process startCounterService(Path portFile) throws IOException {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        String classes;
        try {
            classes = Path.of(CounterService.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (java.net.URISyntaxException e) {
            throw new IOException(e);
        }
        ProcessBuilder pb = new ProcessBuilder("setsid", java,
                "-Xmx64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                // no /tmp/hsperfdata_<user>/<pid> mapping: another JVM starting while the service is dead would
                // delete that file as stale, and CRIU could not restore the mapping
                "-XX:-UsePerfData",
                "-cp", classes, CounterService.class.getName(), portFile.toString());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        return pb.start();
    }

    static int awaitPort(Path portFile, Process p, Duration max) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (Files.exists(portFile)) return Integer.parseInt(Files.readString(portFile).strip());
            if (!p.isAlive()) throw new IllegalStateException("service exited with " + p.exitValue());
            Thread.sleep(20);
        }
        throw new IllegalStateException("service did not publish its port in " + max);
    }

    /** Connects, reads the one line the service writes, retrying while a restored service is not yet accepting. */
    static long readCounter(int port, Duration max) throws Exception {
        long deadline = System.nanoTime() + max.toNanos();
        IOException last = null;
        while (System.nanoTime() - deadline < 0) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1000);
                s.setSoTimeout(2000);
                String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
                if (line != null) return Long.parseLong(line.strip());
            } catch (IOException e) {
                last = e;
            }
            Thread.sleep(20);
        }
        throw new IllegalStateException("no counter from 127.0.0.1:" + port, last);
    }
}
