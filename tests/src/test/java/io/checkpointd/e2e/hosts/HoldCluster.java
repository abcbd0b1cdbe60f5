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

    /** The service's arguments after {@code --host --port --port-file}, made once the hosts exist. */
    @FunctionalInterface
    interface ServiceArgs {
        List<String> of(HoldCluster c) throws IOException;
    }

    /**
     * What runs on the hosts.
     *
     * @param serviceMain    the service's main class (run with {@code --host 0.0.0.0 --port P --port-file F} first)
     * @param serviceArgs    its further arguments
     * @param takeover       the service has an address of its own ({@link #serviceIp()}) on the primary host, which
     *                       the backup takes over ({@code --service-address}, {@code --service-iface}) and whose
     *                       every packet protect holds ({@code protect --service-address})
     * @param protectJvmArgs JVM options of {@code protect} (e.g. a kill point)
     * @param protectArgs    further options of {@code protect}
     * @param spare          a host "spare" runs a second backup, toward which the backup re-protects ({@code --reprotect-to})
     */
    record Setup(String serviceMain, ServiceArgs serviceArgs, boolean takeover, List<String> protectJvmArgs, List<String> protectArgs,
                 boolean spare) {
        /** {@link HeldOutputService}, sending to the cluster's {@link OutputSink}. */
        static Setup heldOutput() {
            return new Setup(HeldOutputService.class.getName(), c -> List.of("--udp-sink", c.sink().udpAddress(), "--tcp-sink",
                    c.sink().tcpAddress()), false, List.of(), List.of(), false);
        }

        Setup withTakeover() {
            return new Setup(serviceMain, serviceArgs, true, protectJvmArgs, protectArgs, spare);
        }

        Setup withProtectJvmArgs(List<String> a) {
            return new Setup(serviceMain, serviceArgs, takeover, a, protectArgs, spare);
        }

        Setup withProtectArgs(List<String> a) {
            return new Setup(serviceMain, serviceArgs, takeover, protectJvmArgs, a, spare);
        }

        Setup withSpare() {
            return new Setup(serviceMain, serviceArgs, takeover, protectJvmArgs, protectArgs, true);
        }
    }

    /** The service's cgroup v2 path before protect moved it into the hold's leaf, to remove that leaf at the end. */
    private String serviceCgroup;
    private final Hosts hosts;
    private final Host primary, backup;
    private final Host spare; // null unless Setup.spare
    private final Setup setup;
    private final Path base, logDir, keyFile, workDir;
    private final OutputSink sink;
    private HostProcess service, protect, backupDaemon, spareDaemon;
    private Duration heartbeatTimeout;

    private HoldCluster(Hosts hosts, Path base, Setup setup) throws IOException, InterruptedException {
        this.hosts = hosts;
        this.base = base;
        this.setup = setup;
        this.logDir = Files.createDirectories(base.resolve("logs"));
        this.keyFile = ClusterSetup.writeKeyFile(base.resolve("auth.key"));
        this.workDir = ClusterSetup.captureWorkDir(base, "checkpointd-hold");
        this.primary = hosts.host("primary");
        this.backup = hosts.host("backup");
        this.spare = setup.spare() ? hosts.host("spare") : null;
        this.sink = new OutputSink(hosts.testAddress());
    }

    /** Starts every role with a heartbeat timeout of {@code heartbeatTimeout}; returns once epoch 1 is acknowledged. */
    static HoldCluster start(Path base, Duration heartbeatTimeout) throws IOException, InterruptedException {
        return start(base, heartbeatTimeout, Setup.heldOutput());
    }

    /** As {@link #start(Path, Duration)}, running what {@code setup} says. */
    static HoldCluster start(Path base, Duration heartbeatTimeout, Setup setup) throws IOException, InterruptedException {
        Hosts hosts = Hosts.create(base);
        HoldCluster c = null;
        try {
            c = new HoldCluster(hosts, base, setup);
            c.heartbeatTimeout = heartbeatTimeout;
            c.startService();
            List<String> reprotect = List.of();
            if (c.spare != null) {
                c.spareDaemon = c.daemon(c.spare, "spare", c.backupArgs(c.spare));
                c.awaitListening(c.spare, BACKUP_PORT, c.spareDaemon);
                reprotect = List.of("--reprotect-to", c.spare.address() + ":" + BACKUP_PORT, "--reprotect-epoch", "100ms");
            }
            List<String> backupArgs = new ArrayList<>(c.backupArgs(c.backup));
            if (setup.takeover()) backupArgs.addAll(List.of("--service-address", c.serviceIp() + "/24", "--service-iface", "eth0"));
            backupArgs.addAll(reprotect);
            c.backupDaemon = c.daemon(c.backup, "backup", backupArgs);
            c.awaitListening(c.backup, BACKUP_PORT, c.backupDaemon);
            c.startProtect();
            c.awaitFirstAck();
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (c != null) c.close();
            else hosts.close();
            throw e;
        }
    }

    /** {@code checkpointd backup} on host {@code h}: a restored service there listens on that host's address. */
    private List<String> backupArgs(Host h) {
        return List.of("backup", "--listen", h.address() + ":" + BACKUP_PORT, "--dir", h.dir().resolve("store").toString(),
                "--service", h.address() + ":" + SERVICE_PORT, "--run-dir", runDir(h).toString(), "--heartbeat-timeout",
                heartbeatTimeout.toMillis() + "ms", "--auth-key", keyFile.toString());
    }

    private void startProtect() throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("protect", Integer.toString(service.hostPid()), "--backup",
                backup.address() + ":" + BACKUP_PORT, "--epoch", "100ms", "--hold", "packets", "--service",
                primary.address() + ":" + SERVICE_PORT, "--run-dir", runDir(primary).toString(), "--work-dir",
                workDir.toString(), "--auth-key", keyFile.toString()));
        // the moving address's packets are held too: the kernel's resets for a killed service's sockets never leave
        if (setup.takeover()) args.addAll(List.of("--service-address", serviceIp() + "/24"));
        args.addAll(setup.protectArgs());
        protect = daemon(primary, "protect", setup.protectJvmArgs(), args);
    }

    /** Starts the backup daemon again on its store and port (after it was killed). */
    void restartBackup() throws IOException, InterruptedException {
        backupDaemon = daemon(backup, "backup", backupArgs(backup));
        awaitListening(backup, BACKUP_PORT, backupDaemon);
    }

    private void awaitFirstAck() throws IOException, InterruptedException {
        StatusFiles.awaitAckedEpoch(this::primaryStatus, 1, Duration.ofSeconds(60),
                () -> protect.isAlive() ? null : "protect exited with status " + protect.waitFor(Duration.ofSeconds(1)) + logs(), logDir);
    }

    private void startService() throws IOException, InterruptedException {
        if (setup.takeover()) {
            Process ip = new ProcessBuilder("ip", "-n", primary.netns(), "addr", "add", serviceIp() + "/24", "dev", "eth0")
                    .redirectErrorStream(true).start();
            String out = new String(ip.getInputStream().readAllBytes());
            if (ip.waitFor() != 0) throw new IOException("adding the service address on host primary: " + out);
        }
        Path portFile = base.resolve("service.port");
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava()));
        cmd.addAll(KvServerProcess.RECOMMENDED_JVM_ARGS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), setup.serviceMain(), "--host", "0.0.0.0",
                "--port", Integer.toString(SERVICE_PORT), "--port-file", portFile.toString()));
        cmd.addAll(setup.serviceArgs().of(this));
        service = primary.startDetached("service", "java", cmd);
        Await.until(Duration.ofSeconds(30), Duration.ofMillis(20), () -> "service did not start within 30 s", () -> {
            if (Files.exists(portFile) && Files.size(portFile) > 0) return Boolean.TRUE;
            if (!service.isAlive()) throw new IOException("service exited at start");
            return null;
        });
        serviceCgroup = Cgroup2.pathOf(service.pid()).orElse(null); // the hold's leaf goes inside it (our pid namespace)
    }

    private HostProcess daemon(Host h, String role, List<String> args) throws IOException, InterruptedException {
        return daemon(h, role, List.of(), args);
    }

    private HostProcess daemon(Host h, String role, List<String> jvmArgs, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava(), "-XX:+UseSerialGC", "-Xmx256m"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.checkpointd.cli.Main"));
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

    /** Waits until the backup daemon of host {@code h} (the backup, or the spare) reports its failover finished. */
    Json awaitFailoverOn(Host h, Duration max) throws IOException, InterruptedException {
        String role = h == spare ? "spare" : "backup";
        return StatusFiles.awaitFailover(() -> StatusFiles.newest(runDir(h), "backup", false), max, logDir.resolve(role + ".log"));
    }

    /** The newest status of the daemon of {@code role} ("primary", "backup") on host {@code h}. */
    Optional<Json> statusOn(Host h, String role) throws IOException {
        return StatusFiles.newest(runDir(h), role, false);
    }

    /** The service's own address ({@link Setup#takeover()}): .100 of the hosts' subnet. */
    String serviceIp() {
        String a = primary.address();
        return a.substring(0, a.lastIndexOf('.')) + ".100";
    }

    /** The spare host (null without {@link Setup#withSpare()}). */
    Host spareHost() {
        return spare;
    }

    HostProcess backupDaemon() {
        return backupDaemon;
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
        for (String role : spare == null ? new String[] {"protect", "backup"} : new String[] {"protect", "backup", "spare"}) {
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
