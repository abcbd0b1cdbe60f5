package io.checkpointd.e2e.hosts;

import io.checkpointd.demo.Await;
import io.checkpointd.demo.ClusterSetup;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.demo.StatusFiles;
import io.checkpointd.demo.hosts.Host;
import io.checkpointd.demo.hosts.HostProcess;
import io.checkpointd.demo.hosts.Hosts;
import io.checkpointd.linux.cgroup.Cgroup2;
import io.checkpointd.linux.cgroup.Cgroup2Placement;
import io.checkpointd.linux.freezer.StaleFreezer;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@link HeldOutputService} protected with {@code --hold packets} on {@link Hosts}: the service and
 * {@code checkpointd protect} on host "primary", {@code checkpointd backup} on host "backup", no proxy; the service's
 * output goes to an {@link OutputSink} in the test's namespace. Every daemon logs to its own file.
 */
final class HoldCluster implements AutoCloseable {
    static final int SERVICE_PORT = 7000, BACKUP_PORT = 7100;

    /** The service's cgroup v2 path before protect moved it into the hold's leaf, to remove that leaf at the end. */
    private String serviceCgroup;
    private final Hosts hosts;
    private final Host primary, backup;
    private final Path base, logDir, keyFile, workDir;
    private final OutputSink sink;
    private HostProcess service, protect, backupDaemon;

    private HoldCluster(Hosts hosts, Path base) throws IOException, InterruptedException {
        this.hosts = hosts;
        this.base = base;
        this.logDir = Files.createDirectories(base.resolve("logs"));
        this.keyFile = ClusterSetup.writeKeyFile(base.resolve("auth.key"));
        this.workDir = ClusterSetup.captureWorkDir(base, "checkpointd-hold");
        this.primary = hosts.host("primary");
        this.backup = hosts.host("backup");
        this.sink = new OutputSink(hosts.testAddress());
    }

    /** Starts every role with a heartbeat timeout of {@code heartbeatTimeout}; returns once epoch 1 is acknowledged. */
    static HoldCluster start(Path base, Duration heartbeatTimeout) throws IOException, InterruptedException {
        Hosts hosts = Hosts.create(base);
        HoldCluster c = null;
        try {
            c = new HoldCluster(hosts, base);
            c.startService();
            c.backupDaemon = c.daemon(c.backup, "backup", List.of("backup", "--listen", c.backup.address() + ":" + BACKUP_PORT,
                    "--dir", c.backup.dir().resolve("store").toString(), "--service", c.backup.address() + ":" + SERVICE_PORT,
                    "--run-dir", runDir(c.backup).toString(), "--heartbeat-timeout", heartbeatTimeout.toMillis() + "ms",
                    "--auth-key", c.keyFile.toString()));
            c.awaitListening(c.backup, BACKUP_PORT, c.backupDaemon);
            c.protect = c.daemon(c.primary, "protect", List.of("protect", Integer.toString(c.service.hostPid()), "--backup",
                    c.backup.address() + ":" + BACKUP_PORT, "--epoch", "100ms", "--hold", "packets", "--service",
                    c.primary.address() + ":" + SERVICE_PORT, "--run-dir", runDir(c.primary).toString(), "--work-dir",
                    c.workDir.toString(), "--auth-key", c.keyFile.toString()));
            c.awaitFirstAck();
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (c != null) c.close();
            else hosts.close();
            throw e;
        }
    }

    private void awaitFirstAck() throws IOException, InterruptedException {
        StatusFiles.awaitAckedEpoch(this::primaryStatus, 1, Duration.ofSeconds(60),
                () -> protect.isAlive() ? null : "protect exited with status " + protect.waitFor(Duration.ofSeconds(1)) + logs(), logDir);
    }

    private void startService() throws IOException, InterruptedException {
        Path portFile = base.resolve("service.port");
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava()));
        cmd.addAll(KvServerProcess.RECOMMENDED_JVM_ARGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), HeldOutputService.class.getName(), "--host", "0.0.0.0",
                "--port", Integer.toString(SERVICE_PORT), "--port-file", portFile.toString(), "--udp-sink", sink.udpAddress(),
                "--tcp-sink", sink.tcpAddress()));
        service = primary.startDetached("service", "java", cmd);
        Await.until(Duration.ofSeconds(30), Duration.ofMillis(20), () -> "service did not start within 30 s", () -> {
            if (Files.exists(portFile) && Files.size(portFile) > 0) return Boolean.TRUE;
            if (!service.isAlive()) throw new IOException("service exited at start");
            return null;
        });
        serviceCgroup = Cgroup2.pathOf(service.pid()).orElse(null); // the hold's leaf goes inside it (our pid namespace)
    }

    private HostProcess daemon(Host h, String role, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava(), "-XX:+UseSerialGC", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), "io.checkpointd.cli.Main"));
        cmd.addAll(args);
        return h.start(role, "java", cmd, logDir.resolve(role + ".log"));
    }

    private void awaitListening(Host h, int port, HostProcess p) throws IOException, InterruptedException {
        Await.until(Duration.ofSeconds(30), Duration.ofMillis(50), () -> p + " does not listen on port " + port, () -> {
            Process ss = new ProcessBuilder("ip", "netns", "exec", h.netns(), "ss", "-Hltn", "sport = :" + port).redirectErrorStream(true).start();
            String out = new String(ss.getInputStream().readAllBytes());
            if (ss.waitFor() == 0 && !out.isBlank()) return Boolean.TRUE;
            if (!p.isAlive()) throw new IOException(p + " exited at start");
            return null;
        });
    }

    static Path runDir(Host h) {
        return h.dir().resolve("run");
    }

    Optional<Json> primaryStatus() throws IOException {
        return StatusFiles.newest(runDir(primary), "primary", false);
    }

    Json awaitFailover(Duration max) throws IOException, InterruptedException {
        return StatusFiles.awaitFailover(() -> StatusFiles.newest(runDir(backup), "backup", false), max, logDir.resolve("backup.log"));
    }

    OutputSink sink() {
        return sink;
    }

    Hosts hosts() {
        return hosts;
    }

    Host primaryHost() {
        return primary;
    }

    Host backupHost() {
        return backup;
    }

    HostProcess service() {
        return service;
    }

    HostProcess protect() {
        return protect;
    }

    String logs() {
        StringBuilder sb = new StringBuilder();
        for (String role : new String[] {"protect", "backup"}) {
            try {
                List<String> lines = Files.readAllLines(logDir.resolve(role + ".log"));
                sb.append("\n--- ").append(role).append(".log (tail) ---\n");
                for (String l : lines.subList(Math.max(0, lines.size() - 30), lines.size())) sb.append(l).append('\n');
            } catch (IOException e) {
                sb.append("\n--- no ").append(role).append(".log\n");
            }
        }
        return sb.toString();
    }

    /** Kills every host, then removes what a killed protect leaves outside them: its freezer and hold cgroups. */
    @Override
    public void close() throws InterruptedException {
        hosts.close();
        sink.close();
        if (service != null) {
            try {
                StaleFreezer.release(service.hostPid());
                StaleFreezer.remove(service.hostPid(), Duration.ofSeconds(2));
                Optional<Path> v2 = Cgroup2Placement.mountPoint();
                if (v2.isPresent() && serviceCgroup != null) {
                    Files.deleteIfExists(Cgroup2.directory(v2.get(), serviceCgroup).resolve("checkpointd-held-" + service.hostPid()));
                }
            } catch (IOException e) {
                System.err.println("hold cluster: cgroups of " + service + ": " + e.getMessage());
            }
        }
        try {
            io.checkpointd.protocol.image.ImageDirs.deleteTree(workDir);
        } catch (IOException e) {
            System.err.println("hold cluster: could not remove " + workDir + ": " + e.getMessage());
        }
    }
}
