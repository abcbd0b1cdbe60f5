package io.checkpointd.release;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.e2e.E2eSupport;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The release tarball built in the same build (module dist), unpacked in a directory outside the checkout and run
 * from there with an mvn on PATH that fails: {@code --version} names the version and the commit the checkout is at, the
 * daemons say the same, and {@code bin/checkpointd demo} (root and CRIU) passes.
 */
class ReleaseTest {
    private static final String VERSION_LINE = "checkpointd (\\S+) \\(commit ([0-9a-f]{12}(?:-dirty)?|unknown)\\)";
    private static Path unpacked;
    private static Path home;
    private static Path noMaven;

    @BeforeAll
    static void unpack() throws Exception {
        Path tarball = Path.of(System.getProperty("checkpointd.release.tarball", "missing"));
        assertThat(tarball).as("the release tarball of this build (module dist)").isRegularFile();
        unpacked = Files.createTempDirectory(Path.of("/tmp"), "cpd-release-");
        // first on PATH: an mvn that fails loudly, so a launcher that still builds from a checkout is caught
        noMaven = Files.createDirectory(unpacked.resolveSibling(unpacked.getFileName() + "-nomaven"));
        Path mvn = noMaven.resolve("mvn");
        Files.writeString(mvn, "#!/bin/sh\necho 'the release ran mvn' >&2\nexit 99\n");
        mvn.toFile().setExecutable(true);
        Path checkout = Path.of(System.getProperty("checkpointd.home", "/nonexistent")).toAbsolutePath().normalize();
        assertThat(unpacked.startsWith(checkout)).as("unpacked outside the checkout").isFalse();
        Result r = run(unpacked, 60, "tar", "xzf", tarball.toString());
        assertThat(r.exit).as(r.output).isZero();
        try (var s = Files.list(unpacked)) {
            List<Path> top = s.toList();
            assertThat(top).as("one top directory").hasSize(1);
            home = top.get(0);
        }
        assertThat(home.getFileName().toString()).isEqualTo("checkpointd-" + System.getProperty("checkpointd.version"));
    }

    @AfterAll
    static void remove() throws IOException {
        for (Path dir : new Path[] {unpacked, noMaven}) {
            if (dir == null) continue;
            try (var s = Files.walk(dir)) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    @Test
    void theTarballHoldsTheLauncherJarsUnitsScriptAndDocs() {
        assertThat(home.resolve("bin/checkpointd")).isExecutable();
        assertThat(home.resolve("scripts/install-criu")).isExecutable();
        assertThat(home.resolve("lib/checkpointd-" + System.getProperty("checkpointd.version") + ".jar")).isRegularFile();
        assertThat(home.resolve("lib/jna-5.17.0.jar")).isRegularFile();
        for (String u : List.of("checkpointd-backup.service", "checkpointd-proxy.service", "checkpointd-protect@.service")) {
            assertThat(home.resolve("systemd").resolve(u)).isRegularFile();
        }
        assertThat(home.resolve("docs/operations.md")).isRegularFile();
        assertThat(home.resolve("README.md")).isRegularFile();
    }

    @Test
    @Timeout(120)
    void versionNamesTheVersionAndTheCommit() throws Exception {
        Result r = run(unpacked, 60, home.resolve("bin/checkpointd").toString(), "--version");
        assertThat(r.exit).as(r.output).isZero();
        Matcher m = Pattern.compile(VERSION_LINE).matcher(r.output.trim());
        assertThat(m.matches()).as(r.output).isTrue();
        assertThat(m.group(1)).isEqualTo(System.getProperty("checkpointd.version"));
        String head = gitHead();
        if (head != null) assertThat(m.group(2)).as("the commit the checkout is at").startsWith(head);
        // through a symlink (e.g. /usr/local/bin/checkpointd), and from a daemon's own --version
        Path link = unpacked.resolve("checkpointd-link");
        Files.createSymbolicLink(link, home.resolve("bin/checkpointd"));
        Result viaLink = run(unpacked, 60, link.toString(), "backup", "--version");
        assertThat(viaLink.exit).as(viaLink.output).isZero();
        assertThat(viaLink.output.trim()).isEqualTo(r.output.trim());
    }

    @Test
    @Timeout(300)
    void theDemoRunsFromTheUnpackedRelease() throws Exception {
        E2eSupport.assumeRootAndCriu();
        Result r = run(unpacked, 240, home.resolve("bin/checkpointd").toString(), "demo");
        assertThat(r.exit).as(r.output).isZero();
        assertThat(r.output).contains("checkpointd demo: PASSED");
        System.out.println("release demo:\n" + r.output);
    }

    private record Result(int exit, String output) {
    }

    /** Runs {@code cmd} in {@code dir} with JAVA_HOME set and a failing mvn first on PATH; kills the tree after {@code seconds}. */
    private static Result run(Path dir, long seconds, String... cmd) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        Map<String, String> env = pb.environment();
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.put("PATH", noMaven + ":" + env.getOrDefault("PATH", "/usr/bin:/bin"));
        env.remove("MAVEN_HOME");
        env.remove("M2_HOME");
        Path out = Files.createTempFile("cpd-release-run-", ".log");
        pb.redirectOutput(out.toFile());
        Process p = pb.start();
        try {
            if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor();
                throw new AssertionError(String.join(" ", cmd) + " did not finish in " + seconds + " s:\n" + Files.readString(out));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static String gitHead() throws Exception {
        Path checkout = Path.of(System.getProperty("checkpointd.home", "/nonexistent"));
        if (!Files.isDirectory(checkout)) return null;
        try {
            Result r = run(checkout, 30, "git", "rev-parse", "--short=12", "HEAD");
            return r.exit == 0 ? r.output.trim() : null;
        } catch (IOException e) {
            return null; // no git
        }
    }
}
