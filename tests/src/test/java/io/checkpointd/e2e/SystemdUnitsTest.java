package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.checkpointd.linux.cgroup.Cgroup2Placement;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The release's units under systemd: systemd runs as PID 1 of namespaces of the test's own over a read-only view
 * of this host ({@code systemd/boot.sh}); the release's backup, proxy and {@code checkpointd-protect@kv} units
 * (paths and option files adjusted, default dependencies off) protect {@code kv.service}. The backup and proxy are
 * active only after READY=1; SIGKILL of the service and its protect unit makes the backup restore it into
 * {@code checkpointd-restored-g2.scope} and re-protects it toward a spare backup from
 * {@code checkpointd-reprotect-g2.scope} (bound to the service's); stopping {@code checkpointd-backup.service} then
 * leaves both running: the service answers through the proxy, still protected. Stopping the service's scope stops
 * its protection's.
 */
class SystemdUnitsTest extends E2eTest {
    private static final Duration WAIT = Duration.ofSeconds(60);
    private Process boot;
    private long init;
    private Path root;
    private Path cgroup;

    @Test
    @Timeout(300)
    void theUnitsProtectAServiceAndStoppingTheBackupLeavesTheRestoredServiceRunning() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/lib/systemd/systemd")), "needs systemd installed (not as init)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/dbus-daemon")), "needs dbus-daemon");
        Optional<Path> mount = Cgroup2Placement.mountPoint();
        assumeTrue(mount.isPresent(), "needs a cgroup v2 hierarchy");
        Path release = unpackRelease();
        Path units = writeUnits(release);
        root = Files.createDirectories(tmp.resolve("root"));
        cgroup = mount.get().resolve("cpd-test-systemd-" + ThreadLocalRandom.current().nextInt(1 << 30));
        Path script = tmp.resolve("boot.sh");
        try (InputStream in = getClass().getResourceAsStream("/systemd/boot.sh")) {
            Files.write(script, in.readAllBytes());
        }
        boot = new ProcessBuilder("bash", script.toString(), root.toString(), cgroup.toString(), units.toString(), release.toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("boot.log").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        init = await("systemd as PID 1 of the namespaces", () -> boot.toHandle().children().findFirst().map(ProcessHandle::pid)
                .filter(p -> commOf(p).equals("systemd")).orElse(null));
        await("systemd running", () -> ns("systemctl", "is-system-running").out.trim().matches("running|degraded") ? true : null);

        Run start = ns("systemctl", "start", "kv.service", "checkpointd-backup.service", "checkpointd-proxy.service",
                "checkpointd-spare.service");
        assertThat(start.code).as(start.out + journal()).isZero();
        assertThat(ns("systemctl", "is-active", "checkpointd-backup.service", "checkpointd-proxy.service").out.trim())
                .as("Type=notify units are active once they said READY=1" + journal()).isEqualTo("active\nactive");
        assertThat(ns("systemctl", "show", "-p", "StatusText", "--value", "checkpointd-proxy.service").out).contains("listening on");
        Run protect = ns("systemctl", "start", "checkpointd-protect@kv.service");
        assertThat(protect.code).as(protect.out + journal()).isZero();
        int servicePid = Integer.parseInt(ns("systemctl", "show", "-p", "MainPID", "--value", "kv.service").out.trim());
        await("epochs acknowledged" + journal(), () -> field("primary", "lastAckedEpoch").filter(e -> e >= 10).orElse(null));
        assertThat(kv("PUT", "k", "v")).as("a write through the proxy").isEqualTo("OK");

        // the primary host fails: its service and its protect die at once
        Run kill = ns("systemctl", "kill", "-s", "KILL", "checkpointd-protect@kv.service", "kv.service");
        assertThat(kill.code).as(kill.out).isZero();
        long restored = await("failover" + journal(), () -> field("backup", "restoredPid").orElse(null));
        assertThat(restored).as("CRIU restores the original pid").isEqualTo(servicePid);
        String scope = "checkpointd-restored-g2.scope";
        // in its scope; once re-protected (cgroup v2 only in here), in the freezer's leaf inside it
        assertThat(ns("cat", "/proc/" + restored + "/cgroup").out).as("the restored service's cgroup")
                .containsPattern("\n0::/system.slice/" + Pattern.quote(scope) + "(/checkpointd-freeze-" + restored + ")?\n");
        assertThat(ns("systemctl", "is-active", scope).out.trim()).isEqualTo("active");
        // the re-protecting primary (toward the spare) has a scope of its own, bound to the service's
        long newPrimary = await("re-protection" + journal(), () -> field("backup", "newPrimaryPid").orElse(null));
        String reprotectScope = "checkpointd-reprotect-g2.scope";
        assertThat(ns("cat", "/proc/" + newPrimary + "/cgroup").out).as("the new primary's cgroup" + journal()).contains(reprotectScope + "\n");
        assertThat(ns("systemctl", "show", "-p", "BindsTo", "--value", reprotectScope).out).contains(scope);
        // the new primary freezes the service without taking it out of its scope (cgroup v2's freezer, a leaf inside)
        await("the service frozen from inside its scope" + journal(), () -> ns("cat", "/proc/" + restored + "/cgroup").out
                .contains("0::/system.slice/" + scope + "/checkpointd-freeze-" + restored + "\n") ? true : null);

        Run stop = ns("systemctl", "stop", "checkpointd-backup.service");
        assertThat(stop.code).as(stop.out).isZero();
        assertThat(ns("systemctl", "is-active", "checkpointd-backup.service").out.trim()).isEqualTo("inactive");
        Thread.sleep(500);
        assertThat(ns("kill", "-0", Long.toString(restored)).code).as("the restored service outlives the backup's unit" + journal()).isZero();
        assertThat(ns("systemctl", "is-active", scope).out.trim()).isEqualTo("active");
        assertThat(kv("GET", "k")).as("it answers, with the write acknowledged before the failure").isEqualTo("VALUE v");
        assertThat(ns("kill", "-0", Long.toString(newPrimary)).code).as("the new primary outlives the backup's unit" + journal()).isZero();
        // output of generation 2 is released on the spare's acks only: an answer shows protection goes on
        await("a write answered after the backup's stop (the spare acknowledges)" + journal(),
                () -> kv("PUT", "k2", "w").equals("OK") ? true : null);

        // stopping the restored service's scope stops its protection with it, as checkpointd-protect@ follows its unit
        assertThat(ns("systemctl", "stop", scope).code).isZero();
        await("the re-protecting scope stopped with the service's", () -> ns("systemctl", "is-active", reprotectScope).out.trim()
                .matches("inactive|failed") ? true : null);
        await("the new primary gone", () -> ns("kill", "-0", Long.toString(newPrimary)).code != 0 ? true : null);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (boot != null) {
            // PID 1 of the namespace: its death ends every process in it, and its mounts go with the namespace
            if (init > 0) ProcessHandle.of(init).ifPresent(ProcessHandle::destroyForcibly);
            boot.destroyForcibly();
            boot.waitFor(30, TimeUnit.SECONDS);
        }
        if (cgroup != null && Files.isDirectory(cgroup)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (Files.isDirectory(cgroup) && System.nanoTime() < deadline) {
                try (var s = Files.walk(cgroup)) {
                    for (Path d : s.filter(Files::isDirectory).sorted(java.util.Comparator.reverseOrder()).toList()) {
                        try {
                            Files.deleteIfExists(d);
                        } catch (IOException e) {
                            // still populated: its processes are exiting
                        }
                    }
                }
                if (Files.isDirectory(cgroup)) Thread.sleep(50);
            }
        }
    }

    private record Run(int code, String out) {
    }

    /** Runs a command inside the namespaces and the read-only root, as the units see them. */
    private Run ns(String... cmd) throws IOException, InterruptedException {
        List<String> c = new ArrayList<>(List.of("nsenter", "-t", Long.toString(init), "-a", "-r", "-w"));
        c.addAll(List.of(cmd));
        Process p = new ProcessBuilder(c).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor();
            throw new AssertionError(String.join(" ", cmd) + " did not finish in 60 s");
        }
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    /** One request to the service through the proxy (port 8080 in the namespace), with bash's /dev/tcp. */
    private String kv(String... words) throws IOException, InterruptedException {
        Run r = ns("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && echo '" + String.join(" ", words)
                + "' >&3 && timeout 10 head -n1 <&3");
        return r.out.trim();
    }

    /** A number from the newest status file of {@code role} in the namespace's /run/checkpointd. */
    private Optional<Long> field(String role, String name) throws IOException {
        Path dir = Path.of("/proc/" + init + "/root/run/checkpointd");
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (var s = Files.list(dir)) {
            for (Path f : s.filter(p -> p.getFileName().toString().startsWith(role + "-")).toList()) {
                Matcher m = Pattern.compile("\"" + name + "\":(\\d+)").matcher(Files.readString(f));
                if (m.find()) return Optional.of(Long.parseLong(m.group(1)));
            }
        } catch (IOException e) {
            return Optional.empty(); // a status file being replaced
        }
        return Optional.empty();
    }

    private String journal() {
        try {
            return "\n" + ns("systemctl", "status", "--no-pager", "--lines", "20", "kv.service", "checkpointd-backup.service",
                    "checkpointd-proxy.service", "checkpointd-protect@kv.service", "checkpointd-spare.service").out + "\nboot.log: " + Files.readString(tmp.resolve("boot.log"));
        } catch (Exception e) {
            return " (no status: " + e.getMessage() + ")";
        }
    }

    private interface Check<T> {
        T get() throws Exception;
    }

    private static <T> T await(String what, Check<T> check) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            T v = check.get();
            if (v != null) return v;
            if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting for " + what);
            Thread.sleep(100);
        }
    }

    private static String commOf(long pid) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/comm")).trim();
        } catch (IOException e) {
            return "";
        }
    }

    private Path unpackRelease() throws Exception {
        Path tarball = Path.of(System.getProperty("checkpointd.release.tarball", "missing"));
        assertThat(tarball).as("the release tarball of this build (module dist)").isRegularFile();
        Path dir = Files.createDirectories(tmp.resolve("release"));
        Process p = new ProcessBuilder("tar", "xzf", tarball.toString(), "--strip-components=1", "-C", dir.toString())
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0).as(new String(p.getInputStream().readAllBytes())).isTrue();
        return dir;
    }

    /**
     * The release's units as shipped, but for paths (the release at /tmp/release, option files in
     * /etc/systemd/system/conf) and a drop-in turning default dependencies off (sysinit.target, masked here, would
     * start the host's boot services); plus kv.service and the options.
     */
    private Path writeUnits(Path release) throws IOException {
        Path units = Files.createDirectories(tmp.resolve("units"));
        for (String u : List.of("checkpointd-backup.service", "checkpointd-proxy.service", "checkpointd-protect@.service")) {
            String text = Files.readString(release.resolve("systemd").resolve(u))
                    .replace("/opt/checkpointd/current", "/tmp/release").replace("/etc/checkpointd/", "/etc/systemd/system/conf/");
            Files.writeString(units.resolve(u), text);
            Path dropIn = Files.createDirectories(units.resolve(u + ".d"));
            Files.writeString(dropIn.resolve("test.conf"), "[Unit]\nDefaultDependencies=no\n");
        }
        for (String r : List.of("checkpointd-test.target", "dbus.socket", "dbus.service", "kv.service")) {
            try (InputStream in = getClass().getResourceAsStream("/systemd/" + r)) {
                Files.write(units.resolve(r), in.readAllBytes());
            }
        }
        // a spare backup for the re-protection: the backup's unit with its own options and status directory
        Files.writeString(units.resolve("checkpointd-spare.service"), Files.readString(units.resolve("checkpointd-backup.service"))
                .replace("backup.conf", "spare.conf").replace("CHECKPOINTD_BACKUP_ARGS", "CHECKPOINTD_SPARE_ARGS"));
        Path spareDropIn = Files.createDirectories(units.resolve("checkpointd-spare.service.d"));
        Files.writeString(spareDropIn.resolve("test.conf"), "[Unit]\nDefaultDependencies=no\n");
        for (String masked : List.of("sysinit.target", "basic.target")) Files.createSymbolicLink(units.resolve(masked), Path.of("/dev/null"));
        Path conf = Files.createDirectories(units.resolve("conf"));
        String common = " --insecure-plaintext";
        Files.writeString(conf.resolve("backup.conf"), "CHECKPOINTD_BACKUP_ARGS=\"--listen 127.0.0.1:7070 --dir /tmp/store"
                + " --proxy-control 127.0.0.1:7072 --heartbeat-timeout 1s --reprotect-to 127.0.0.1:7074" + common + "\"\n");
        Files.writeString(conf.resolve("spare.conf"), "CHECKPOINTD_SPARE_ARGS=\"--listen 127.0.0.1:7074 --dir /tmp/spare"
                + " --run-dir /run/checkpointd-spare --heartbeat-timeout 10m" + common + "\"\n");
        Files.writeString(conf.resolve("proxy.conf"), "CHECKPOINTD_PROXY_ARGS=\"--listen 127.0.0.1:8080 --upstream 127.0.0.1:9090"
                + " --control 127.0.0.1:7072" + common + "\"\n");
        Files.writeString(conf.resolve("protect-kv.conf"), "CHECKPOINTD_PROTECT_ARGS=\"--backup 127.0.0.1:7070 --epoch 50ms"
                + " --proxy-control 127.0.0.1:7072 --service 127.0.0.1:9090" + common + "\"\n");
        return units;
    }
}
