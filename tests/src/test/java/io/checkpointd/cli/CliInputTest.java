package io.checkpointd.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.demo.KvServerProcess;
import java.io.File;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad input gets exactly one line on stderr naming the problem and the fix, exit code 2, and no stack trace.
 * Runs the real CLI in-process (picocli with swapped writers) and, for privileges, as a child process.
 */
class CliInputTest {
    static KvServerProcess jvm;
    static Process sleeper;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void startTargets() throws Exception {
        jvm = KvServerProcess.start(System.getProperty("java.class.path"), tmp.resolve("port"), java.time.Duration.ofSeconds(30));
        sleeper = new ProcessBuilder("sleep", "300").start();
    }

    @AfterAll
    static void stopTargets() throws Exception {
        if (jvm != null) jvm.close();
        if (sleeper != null) {
            sleeper.destroyForcibly();
            sleeper.waitFor();
        }
    }

    record Run(int code, String out, String err) {
        List<String> errLines() {
            return err.lines().toList();
        }
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    static void assertUsageError(Run r, String... mentions) {
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.errLines()).as("exactly one line on stderr").hasSize(1);
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("\tat ");
        for (String m : mentions) assertThat(r.err()).contains(m);
    }

    static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void aPidThatDoesNotExist() {
        assumeTrue(isRoot());
        assertUsageError(cli("protect", "4194000", "--backup", "127.0.0.1:7070", "--insecure-plaintext"), "no process with pid 4194000");
    }

    @Test
    void aPidThatIsNotAJvmIsRefusedUnlessAnyProcess() throws Exception {
        String pid = Long.toString(sleeper.pid());
        assertUsageError(cli("protect", pid, "--backup", "127.0.0.1:7070", "--insecure-plaintext"), "is not a JVM", "--any-process");
        assumeTrue(isRoot());
        // with --any-process it gets past that check, to the next problem: nobody listens at the backup address
        int port = closedPort();
        assertUsageError(cli("protect", pid, "--any-process", "--backup", "127.0.0.1:" + port, "--insecure-plaintext"), "unreachable", "checkpointd backup");
    }

    @Test
    void anUnreachableBackup() throws Exception {
        assumeTrue(isRoot());
        int port = closedPort();
        assertUsageError(cli("protect", Long.toString(jvm.pid()), "--backup", "127.0.0.1:" + port, "--insecure-plaintext"), "127.0.0.1:" + port, "unreachable");
    }

    @Test
    void aProcessWritingAFileOutsideItsDataDirsIsRefusedNamingTheFile() throws Exception {
        assumeTrue(isRoot());
        Path dir = Files.createDirectories(tmp.resolve("writer"));
        Path log = dir.resolve("app.log");
        Process writer = new ProcessBuilder("bash", "-c", "exec 3>>" + log + "; exec sleep 300").start();
        try {
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (!Files.exists(log) || !ProcessHandle.of(writer.pid()).flatMap(h -> h.info().command()).orElse("").endsWith("sleep")) {
                assertThat(System.nanoTime() - deadline).as("writer started").isNegative();
                Thread.sleep(20);
            }
            String pid = Long.toString(writer.pid());
            int port = closedPort();
            List<String> base = List.of("protect", pid, "--any-process", "--backup", "127.0.0.1:" + port, "--insecure-plaintext");
            assertUsageError(cli(base), log.toString(), "--data-dir", "--allow-unreplicated");
            // inside a data dir, or allowed: protect gets past the check, to the next problem (no backup there)
            assertUsageError(cli(base, "--data-dir", dir.toString()), "unreachable");
            assertUsageError(cli(base, "--allow-unreplicated"), "unreachable");
            assertUsageError(cli(base, "--data-dir", tmp.resolve("no-such-dir").toString()), "no-such-dir", "does not exist");
            assertUsageError(cli(base, "--data-dir", dir.toString(), "--data-dir", tmp.toString()), "overlap");
            assertUsageError(cli(base, "--data-dir", log.toString()), "not a directory");
            assertUsageError(cli(base, "--data-dir", "/etc"), "/etc", "system directory");
        } finally {
            writer.destroyForcibly();
            writer.waitFor();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"localhost", "127.0.0.1:", ":7070", "127.0.0.1:http", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
        "no-such-host.invalid:7070"})
    void aMalformedHostPort(String bad) {
        assertUsageError(cli("protect", "1", "--backup", bad), "'" + bad + "'");
        assertUsageError(cli("proxy", "--listen", "127.0.0.1:0", "--upstream", bad, "--control", "127.0.0.1:0"), "'" + bad + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "0ms", "-5ms", "-1s", "25", "abc", "1.5s", "25 ms", "2h", "99999999999999999999ms"})
    void aMalformedOrOutOfRangeEpoch(String bad) {
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--epoch", bad), "'" + bad + "'");
    }

    @ParameterizedTest
    @ValueSource(strings = {"25ms", "1s", "200ms", "2m"})
    void validEpochsParse(String good) {
        assertThat(new Converters.PositiveDuration().convert(good)).isPositive();
    }

    @Test
    void aBadEngineOrTracker() {
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--engine", "fast"), "--engine", "'fast'");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--tracker", "magic"), "--tracker", "'magic'");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--engine", "full", "--tracker", "scan"), "--tracker", "--engine incremental");
        if (!io.checkpointd.linux.track.Trackers.isUsable("soft-dirty")) {
            // this kernel: the one line says why
            assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--tracker", "soft-dirty"), "soft-dirty", "cannot run here");
        }
    }

    @Test
    void aBadEpochEndFloorOrAck() {
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--epoch-end", "sometimes"), "--epoch-end", "'sometimes'");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--epoch-min", "0ms"), "--epoch-min", "'0ms'");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--epoch", "25ms", "--epoch-min", "50ms"),
                "--epoch-min must not be longer than --epoch");
        assertUsageError(cli("backup", "--listen", "127.0.0.1:0", "--dir", "/nonexistent/store", "--ack", "never"), "--ack", "'never'");
    }

    @Test
    void aBadHoldOrOneThatDoesNotCombine() {
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--hold", "bytes"), "--hold", "'bytes'");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:7070", "--hold", "packets", "--proxy-control", "127.0.0.1:7201",
                "--insecure-plaintext"),
                "--hold packets", "--proxy-control");
    }

    @Test
    void missingRequiredOptionsAndUnknownOnes() {
        assertUsageError(cli("protect", "1"), "--backup");
        assertUsageError(cli("backup", "--listen", "127.0.0.1:0"), "--dir");
        assertUsageError(cli("protect", "1", "--backup", "127.0.0.1:1", "--bogus"), "--bogus");
        assertUsageError(cli("no-such-command"), "no-such-command");
        assertUsageError(cli("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("store").toString(), "--insecure-plaintext",
                "--data-root", "relative/dir"), "--data-root", "absolute");
    }

    /** The three daemons, each with everything but its authentication options. */
    private static List<List<String>> daemons() {
        return List.of(List.of("protect", Long.toString(sleeper.pid()), "--backup", "127.0.0.1:7070"),
                List.of("backup", "--listen", "127.0.0.1:0", "--dir", tmp.resolve("store").toString()),
                List.of("proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:7070", "--control", "127.0.0.1:0"));
    }

    private static Run cli(List<String> base, String... more) {
        List<String> args = new ArrayList<>(base);
        args.addAll(List.of(more));
        return cli(args.toArray(new String[0]));
    }

    @ParameterizedTest
    @ValueSource(strings = {"9100", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "no-such-host.invalid:9100"})
    void aMalformedMetricsAddress(String bad) {
        for (List<String> d : daemons()) assertUsageError(cli(d, "--insecure-plaintext", "--metrics", bad), "'" + bad + "'");
    }

    @Test
    void aMetricsPortInUseStopsTheDaemonWithOneLine() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            String at = "127.0.0.1:" + taken.getLocalPort();
            assertUsageError(cli(daemons().get(2), "--insecure-plaintext", "--metrics", at), "--metrics", at);
        }
    }

    @Test
    void withoutAuthKeyOrInsecurePlaintextNoDaemonStarts() {
        for (List<String> d : daemons()) {
            assertUsageError(cli(d), "--tls-cert", "checkpointd certs --out DIR", "--auth-key",
                    "head -c 32 /dev/urandom > key; chmod 600 key", "--insecure-plaintext");
        }
    }

    @Test
    void badKeyFilesAreRefusedWithTheFix() throws Exception {
        Path good = keyFile("good.key", 32, "rw-------");
        for (List<String> d : daemons()) {
            assertUsageError(cli(d, "--auth-key", keyFile("short.key", 31, "rw-------").toString()), "31 bytes", "/dev/urandom");
            assertUsageError(cli(d, "--auth-key", keyFile("group.key", 32, "rw-r-----").toString()), "group or others", "chmod 600");
            assertUsageError(cli(d, "--auth-key", keyFile("world.key", 64, "rw-r--r--").toString()), "group or others", "chmod 600");
            assertUsageError(cli(d, "--auth-key", tmp.resolve("missing.key").toString()), "does not exist", "/dev/urandom");
            assertUsageError(cli(d, "--auth-key", tmp.toString()), "not a regular file");
            assertUsageError(cli(d, "--auth-key", good.toString(), "--insecure-plaintext"), "not several");
        }
        // a good key gets protect past the check, to the next problem
        assertUsageError(cli(daemons().get(0), "--auth-key", good.toString()), "is not a JVM");
    }

    private static Path keyFile(String name, int size, String perms) throws java.io.IOException {
        Path f = tmp.resolve(name);
        byte[] b = new byte[size];
        new java.security.SecureRandom().nextBytes(b);
        Files.write(f, b);
        Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString(perms));
        return f;
    }

    @Test
    void notRootIsRefusedWithTheFix() throws Exception {
        assumeTrue(isRoot(), "drops privileges from root");
        // root without CAP_SYS_ADMIN in the bounding set: execve leaves it out of the child's capabilities
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--bounding-set", "-sys_admin,-sys_ptrace", "--inh-caps", "-all",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
                "io.checkpointd.cli.Main", "protect", Long.toString(jvm.pid()), "--backup", "127.0.0.1:7070", "--insecure-plaintext"));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectInput(new File("/dev/null")).start();
        try {
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            Run r = new Run(p.exitValue(), "", err);
            assertUsageError(r, "needs root", "CAP_SYS_ADMIN", "sudo");
        } finally {
            p.destroyForcibly();
            p.waitFor();
        }
    }

    @Test
    void checkRunsAndSaysWhetherProtectCanWork() {
        Run r = cli("check");
        assertThat(r.out()).contains("CRIU").contains("tracker uffd-wp").contains("tracker soft-dirty").contains("freezer")
                .contains("ptrace").contains("network namespaces").contains("NFQUEUE");
        if (isRoot()) {
            assertThat(r.code()).as(r.out()).isZero();
            assertThat(r.out()).contains("protect can work");
        }
        Run json = cli("check", "--json");
        assertThat(json.out().trim()).startsWith("{\"protectCanWork\":");
    }

    @Test
    void statusOfAnEmptyRunDirAndHelpForEverySubcommand() throws Exception {
        Path run = Files.createDirectories(tmp.resolve("run"));
        Run r = cli("status", "--run-dir", run.toString(), "--json");
        assertThat(r.code()).isZero();
        assertThat(r.out().trim()).isEqualTo("{\"runDir\":\"" + run + "\",\"daemons\":[]}");
        for (String c : new String[] {"protect", "backup", "proxy", "check", "status", "demo"}) {
            Run h = cli(c, "--help");
            assertThat(h.code()).isZero();
            assertThat(h.out()).contains("Usage: checkpointd " + c);
        }
    }

    static boolean isRoot() {
        return io.checkpointd.e2e.E2eSupport.isRoot();
    }
}
