package io.checkpointd.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy and the backup as a {@code Type=notify} unit sees them: each, started with {@code $NOTIFY_SOCKET},
 * sends READY=1 with a STATUS= line once it listens, and STOPPING=1 when stopped with SIGTERM. The receiving end
 * is a unix datagram socket bound by a small python3 script, as systemd binds its own.
 */
class ReadinessTest {
    @TempDir
    Path tmp;

    private static final String RECEIVER = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            open(sys.argv[1] + '.bound', 'w').close()
            s.settimeout(60)
            while True:
                m = s.recv(4096).decode()
                print(m.replace('\\n', '|'), flush=True)
                if m.startswith('STOPPING=1'):
                    break
            """;

    @Test
    @Timeout(120)
    void theProxySaysReadyOnceListeningAndStoppingOnSigterm() throws Exception {
        List<String> got = notifications("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:1", "--control", "127.0.0.1:0");
        assertThat(got.get(0)).startsWith("READY=1|STATUS=listening on /127.0.0.1:").contains("upstream");
        assertThat(got.get(got.size() - 1)).isEqualTo("STOPPING=1|STATUS=stopping");
    }

    @Test
    @Timeout(120)
    void theBackupToo() throws Exception {
        assumeTrue(io.checkpointd.e2e.E2eSupport.isRoot(), "the backup needs root");
        List<String> got = notifications("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("store").toString());
        assertThat(got.get(0)).startsWith("READY=1|STATUS=listening on /127.0.0.1:").contains("store");
        assertThat(got).anySatisfy(s -> assertThat(s).startsWith("STATUS=waiting, committed generation")
                .contains("; listening on /127.0.0.1:"));
        assertThat(got.get(got.size() - 1)).isEqualTo("STOPPING=1|STATUS=stopping");
    }

    /** Starts the daemon with NOTIFY_SOCKET, waits for READY (and a status line), SIGTERMs it; every datagram. */
    private List<String> notifications(String role, String... args) throws Exception {
        assumeTrue(new File("/usr/bin/python3").canExecute(), "needs python3 for the receiving socket");
        Path sock = tmp.resolve("notify");
        Path script = tmp.resolve("receiver.py");
        Files.writeString(script, RECEIVER);
        Process rx = new ProcessBuilder("python3", script.toString(), sock.toString())
                .redirectErrorStream(true).start();
        Process d = null;
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(Path.of(sock + ".bound"))) {
                assertThat(rx.isAlive()).as("receiver started").isTrue();
                assertThat(System.nanoTime()).as("receiver bound in time").isLessThan(deadline);
                Thread.sleep(20);
            }
            List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), "io.checkpointd.cli.Main", role));
            cmd.addAll(List.of(args));
            cmd.addAll(List.of("--insecure-plaintext", "--run-dir", tmp.resolve("run").toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve(role + ".log").toFile());
            pb.environment().put("NOTIFY_SOCKET", sock.toString());
            d = pb.start();
            // READY (and, for the backup, its first STATUS after a second), then stop it as systemd does
            Path log = tmp.resolve(role + ".log");
            while (!Files.readString(log).contains("listening on")) {
                assertThat(d.isAlive()).as(Files.readString(log)).isTrue();
                Thread.sleep(20);
            }
            Thread.sleep(role.equals("backup") ? 2500 : 300);
            d.destroy(); // SIGTERM
            assertThat(d.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(rx.waitFor(30, TimeUnit.SECONDS)).as("receiver got STOPPING=1").isTrue();
            List<String> got = new String(rx.getInputStream().readAllBytes()).lines().toList();
            assertThat(got).as(Files.readString(log)).hasSizeGreaterThanOrEqualTo(2);
            return got;
        } finally {
            if (d != null && d.isAlive()) {
                d.destroyForcibly();
                d.waitFor();
            }
            if (rx.isAlive()) {
                rx.destroyForcibly();
                rx.waitFor();
            }
        }
    }
}
