package io.checkpointd.cli;

import static io.checkpointd.cli.CliInputTest.assertUsageError;
import static io.checkpointd.cli.CliInputTest.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --pre-auth-timeout}, {@code --pre-auth-max} and {@code --pre-auth-max-per-source} of the backup and the
 * proxy: out-of-range values stop the daemon with one line (exit 2), and given values are the ones the listener
 * enforces: with a 3 s deadline, at most 2 per source and 3 in all, a third silent connection from one address is
 * closed at once, a fourth pending one evicts the oldest, and the rest are closed after ~3 s (the
 * default would be 10 s, 8 and 64).
 */
class PreAuthOptionsTest {
    private static final Pattern BACKUP_PORT = Pattern.compile("backup listening on /127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern PROXY_CONTROL = Pattern.compile("\\(control /127\\.0\\.0\\.1:(\\d+)\\)");

    @TempDir
    Path tmp;

    private final List<Process> daemons = new ArrayList<>();
    private final List<Socket> sockets = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        for (Socket s : sockets) s.close();
        for (Process p : daemons) {
            p.destroy();
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
        }
    }

    @Test
    void outOfRangeValuesStopEachDaemonWithOneLine() {
        for (List<String> d : daemons()) {
            assertUsageError(run(d, "--pre-auth-timeout", "50ms"), "--pre-auth-timeout must be between 100ms and 60s");
            assertUsageError(run(d, "--pre-auth-timeout", "2m"), "--pre-auth-timeout", "not 120000ms");
            assertUsageError(run(d, "--pre-auth-timeout", "soon"), "'soon' is not a duration");
            assertUsageError(run(d, "--pre-auth-max", "0"), "--pre-auth-max must be between 1 and 65536, not 0");
            assertUsageError(run(d, "--pre-auth-max", "100000"), "--pre-auth-max must be between");
            assertUsageError(run(d, "--pre-auth-max", "many"), "--pre-auth-max", "many");
            assertUsageError(run(d, "--pre-auth-max-per-source", "0"), "--pre-auth-max-per-source must be between 1 and --pre-auth-max (64)");
            assertUsageError(run(d, "--pre-auth-max", "4", "--pre-auth-max-per-source", "5"), "--pre-auth-max-per-source", "(4), not 5");
        }
    }

    @Test
    @Timeout(120)
    void theBackupsReplicationPortEnforcesTheGivenBounds() throws Exception {
        assumeTrue(io.checkpointd.e2e.E2eSupport.isRoot(), "the backup needs root");
        int port = start(BACKUP_PORT, "backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("store").toString());
        assertBounds(port);
    }

    @Test
    @Timeout(120)
    void theProxysControlPortToo() throws Exception {
        int port = start(PROXY_CONTROL, "proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--control", "127.0.0.1:0");
        assertBounds(port);
    }

    /** A deadline above the handshake's own 10 s holds too: the handshake's server-side timeout is only a backstop. */
    @Test
    @Timeout(120)
    void aDeadlineLongerThanTenSecondsHolds() throws Exception {
        int port = start(PROXY_CONTROL, List.of("--pre-auth-timeout", "12s"), "proxy", "--listen", "127.0.0.1:0",
                "--upstream", "127.0.0.1:1", "--control", "127.0.0.1:0");
        long t0 = System.nanoTime();
        Socket s = open("127.0.0.1", port);
        assertThat(secondsToEof(s, 11)).as("still open after 11 s").isEqualTo(11.0);
        assertThat(secondsToEof(s, 5)).as("closed at 12 s").isLessThan(5);
        assertThat((System.nanoTime() - t0) / 1e9).isBetween(11.5, 16.0);
    }

    /** 2 per source, 3 in all, 3 s: each bound shows on silent connections (which never authenticate). */
    private void assertBounds(int port) throws Exception {
        long t0 = System.nanoTime();
        Socket a1 = open("127.0.0.1", port), a2 = open("127.0.0.1", port);
        Socket a3 = open("127.0.0.1", port);
        assertThat(secondsToEof(a3, 2)).as("a third from one address is closed at once").isLessThan(2);
        Socket b1 = open("127.0.0.2", port);
        Socket c1 = open("127.0.0.3", port);
        assertThat(secondsToEof(a1, 2)).as("a fourth pending connection evicts the oldest").isLessThan(2);
        // the rest are closed by the 3 s deadline, counted from their connect
        for (Socket s : List.of(a2, b1, c1)) assertThat(secondsToEof(s, 9)).as("closed by the deadline").isLessThan(9);
        double took = (System.nanoTime() - t0) / 1e9;
        assertThat(took).as("the deadline is 3 s, not the default 10 s").isBetween(2.5, 7.5);
    }

    private Socket open(String from, int port) throws IOException {
        Socket s = new Socket();
        sockets.add(s);
        s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        return s;
    }

    /** Seconds until the server closes {@code s} (reading and dropping its AUTH frame), or {@code max} if it did not. */
    private static double secondsToEof(Socket s, int max) throws IOException {
        long t0 = System.nanoTime(), deadline = t0 + TimeUnit.SECONDS.toNanos(max);
        InputStream in = s.getInputStream();
        byte[] buf = new byte[4096];
        while (System.nanoTime() < deadline) {
            s.setSoTimeout((int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            try {
                if (in.read(buf) < 0) return (System.nanoTime() - t0) / 1e9;
            } catch (SocketTimeoutException e) {
                break;
            } catch (IOException e) {
                return (System.nanoTime() - t0) / 1e9; // reset: closed too
            }
        }
        return max;
    }

    /** Starts the daemon with a shared key and the bounds under test; the port its output names. */
    private int start(Pattern port, String... args) throws Exception {
        return start(port, List.of("--pre-auth-timeout", "3s", "--pre-auth-max", "3", "--pre-auth-max-per-source", "2"), args);
    }

    private int start(Pattern port, List<String> bounds, String... args) throws Exception {
        Path key = tmp.resolve("auth.key");
        if (!Files.exists(key)) {
            byte[] b = new byte[32];
            new java.security.SecureRandom().nextBytes(b);
            Files.write(key, b);
            Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.checkpointd.cli.Main"));
        cmd.addAll(List.of(args));
        cmd.addAll(List.of("--auth-key", key.toString(), "--run-dir", tmp.resolve("run").toString()));
        cmd.addAll(bounds);
        Path log = tmp.resolve(args[0] + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        daemons.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            Matcher m = port.matcher(Files.readString(log));
            if (m.find()) return Integer.parseInt(m.group(1));
            assertThat(p.isAlive()).as(Files.readString(log)).isTrue();
            assertThat(System.nanoTime()).as("started in time").isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    private List<List<String>> daemons() {
        return List.of(List.of("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("s").toString(), "--insecure-plaintext"),
                List.of("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:7070", "--control", "127.0.0.1:0", "--insecure-plaintext"));
    }

    private static CliInputTest.Run run(List<String> base, String... more) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of(more));
        return cli(args.toArray(new String[0]));
    }
}
