package io.checkpointd.demo.hosts;

import io.checkpointd.demo.Await;
import io.checkpointd.demo.ClusterSetup;
import io.checkpointd.demo.KvServerProcess;
import io.checkpointd.demo.StatusFiles;
import io.checkpointd.linux.freezer.StaleFreezer;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A protected KV service on {@link Hosts}: the service and {@code checkpointd protect} on host "primary",
 * {@code checkpointd backup} on host "backup", {@code checkpointd proxy} on host "front"; clients run in the test
 * JVM and connect to the proxy over the bridge. The service listens on 0.0.0.0 so that, restored by CRIU on the
 * backup host, it listens there; the backup's {@code --service} is the backup host's address, so the proxy is
 * pointed at the restored service. Every daemon has its own run directory (status files) and log.
 */
public final class HostCluster implements AutoCloseable {
    public static final int SERVICE_PORT = 7000, BACKUP_PORT = 7100, PROXY_PORT = 7200, CONTROL_PORT = 7201;

    /**
     * How to run the cluster.
     *
     * @param serviceMain null: the KV service; else a main class run as the service with {@code --host H --port P
     *                    --port-file F} (and {@code --dir D} with a data dir), which writes its port to F when ready
     * @param dataDir     null, or a data dir ({@code protect --data-dir}): each host that runs the service sees its
     *                    own directory at this path (a bind mount in its mount namespace: {@link #dataDirOf(Host)})
     * @param takeover    the service also has an address of its own ({@link #serviceAddress()}) on the primary host,
     *                    which the backup takes over at failover ({@code --service-address}, {@code --service-iface})
     * @param ipv6        that address is an IPv6 one (the service then listens on {@code ::}, both families)
     * @param packetHold  protect holds the service's packets ({@code --hold packets --service-address}) instead of
     *                    the proxy holding client traffic; needs {@code takeover}
     */
    public record Options(Duration epoch, Duration heartbeatTimeout, Path baseDir, String classpath, String serviceMain, Path dataDir,
                          boolean spare, boolean takeover, boolean ipv6, boolean packetHold) {
        public Options(Duration epoch, Duration heartbeatTimeout, Path baseDir, String classpath, String serviceMain, Path dataDir,
                       boolean spare) {
            this(epoch, heartbeatTimeout, baseDir, classpath, serviceMain, dataDir, spare, false, false, false);
        }

        public static Options of(Path baseDir) {
            return new Options(Duration.ofMillis(100), Duration.ofSeconds(1), baseDir, System.getProperty("java.class.path"), null, null, false);
        }

        /** The service gets an address that moves to the backup host at failover (see {@link HostCluster#serviceAddress()}). */
        public Options withAddressTakeover() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, serviceMain, dataDir, spare, true, ipv6, packetHold);
        }

        /** As {@link #withAddressTakeover()}, with an IPv6 service address (announced by a Neighbor Advertisement). */
        public Options withAddressTakeover6() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, serviceMain, dataDir, spare, true, true, packetHold);
        }

        /**
         * Address takeover, and protect holds every packet of the service and of its address ({@code --hold packets
         * --service-address}): clients talk to {@link HostCluster#serviceAddress()} directly, the proxy is idle.
         */
        public Options withPacketHold() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, serviceMain, dataDir, spare, true, ipv6, true);
        }

        public Options withEpoch(Duration e) {
            return new Options(e, heartbeatTimeout, baseDir, classpath, serviceMain, dataDir, spare, takeover, ipv6, packetHold);
        }

        public Options withHeartbeatTimeout(Duration t) {
            return new Options(epoch, t, baseDir, classpath, serviceMain, dataDir, spare, takeover, ipv6, packetHold);
        }

        /** Runs {@code mainClass} as the service, with data dir {@code dir} (null: none). */
        public Options withService(String mainClass, Path dir) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, mainClass, dir, spare, takeover, ipv6, packetHold);
        }

        /**
         * Adds a host "spare" running a second backup; the backup re-protects the service it restores toward it
         * ({@code --reprotect-to}), so a second failover restores the service on the spare.
         */
        public Options withSpare() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, serviceMain, dataDir, true, takeover, ipv6, packetHold);
        }
    }

    private final Options opts;
    private final Hosts hosts;
    private final Host primary, backup, front;
    private final Host spare; // null unless Options.spare
    private final Path logDir;
    private final Path keyFile;
    private final Path workDir;
    private HostProcess service, protect, backupDaemon, proxy, spareDaemon;
    /** The service's cgroup v2 path before protect's packet hold moved it into a leaf, to remove that leaf at the end. */
    private String serviceCgroup;

    private HostCluster(Options opts, Hosts hosts) throws IOException, InterruptedException {
        this.opts = opts;
        this.hosts = hosts;
        this.logDir = opts.baseDir().resolve("logs");
        Files.createDirectories(logDir);
        this.keyFile = ClusterSetup.writeKeyFile(opts.baseDir().resolve("auth.key"));
        this.workDir = ClusterSetup.captureWorkDir(opts.baseDir(), "checkpointd-hosts");
        this.primary = hosts.host("primary");
        this.backup = hosts.host("backup");
        this.front = hosts.host("front");
        this.spare = opts.spare() ? hosts.host("spare") : null;
    }

    /** Creates the hosts, starts every role, and waits until the first epoch is acknowledged. */
    public static HostCluster start(Options opts) throws IOException, InterruptedException {
        Hosts hosts = Hosts.create(opts.baseDir());
        HostCluster c = null;
        try {
            c = new HostCluster(opts, hosts);
            c.mountDataDirs();
            c.startService();
            c.startBackup();
            c.startProxy();
            c.startProtect();
            c.awaitAckedEpoch(1, Duration.ofSeconds(60));
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (c != null) c.close();
            else hosts.close();
            throw e;
        }
    }

    /**
     * Gives the primary and backup hosts each their own directory at the data dir's path (a bind mount in the host's
     * mount namespace): the restored service can then only read what the backup materialized.
     */
    private void mountDataDirs() throws IOException {
        if (opts.dataDir() == null) return;
        Files.createDirectories(opts.dataDir());
        List<Host> sides = new ArrayList<>(List.of(primary, backup));
        if (spare != null) sides.add(spare);
        for (Host h : sides) {
            Path own = Files.createDirectories(dataDirOf(h));
            Sh.Result r = h.exec("mount", "--bind", own.toString(), opts.dataDir().toString());
            if (r.exit() != 0) throw new IOException("bind-mounting the data dir on host " + h.name() + ": " + r.output());
        }
    }

    /** Where host {@code h}'s view of the data dir lives, as seen from the test (the root mount namespace). */
    public Path dataDirOf(Host h) {
        return h.dir().resolve("data-dir");
    }

    private void startService() throws IOException, InterruptedException {
        if (opts.takeover()) {
            Sh.Result r = opts.ipv6() ? primary.exec("ip", "-6", "addr", "add", serviceIp() + "/64", "dev", "eth0", "nodad")
                    : primary.exec("ip", "addr", "add", serviceIp() + "/24", "dev", "eth0");
            if (r.exit() != 0) throw new IOException("adding the service address on host primary: " + r.output());
        }
        Path portFile = opts.baseDir().resolve("service.port");
        Files.deleteIfExists(portFile);
        String any = opts.ipv6() ? "::" : "0.0.0.0";
        List<String> cmd = KvServerProcess.command(KvServerProcess.currentJava(), KvServerProcess.RECOMMENDED_JVM_ARGS, opts.classpath(), any,
                SERVICE_PORT, portFile);
        if (opts.serviceMain() != null) {
            cmd = new ArrayList<>(List.of(KvServerProcess.currentJava()));
            cmd.addAll(KvServerProcess.RECOMMENDED_JVM_ARGS);
            cmd.addAll(List.of("-cp", opts.classpath(), opts.serviceMain(), "--host", any, "--port",
                    Integer.toString(SERVICE_PORT), "--port-file", portFile.toString()));
            if (opts.dataDir() != null) cmd.addAll(List.of("--dir", opts.dataDir().toString()));
        }
        service = primary.startDetached("service", "java", cmd);
        Await.until(Duration.ofSeconds(30), Duration.ofMillis(20), () -> "service did not start within 30 s", () -> {
            if (Files.exists(portFile) && Files.size(portFile) > 0) return Boolean.TRUE;
            if (!service.isAlive()) throw new IOException("service exited at start");
            return null;
        });
        if (opts.packetHold()) serviceCgroup = io.checkpointd.linux.cgroup.Cgroup2.pathOf(service.pid()).orElse(null);
    }

    private void startBackup() throws IOException, InterruptedException {
        List<String> reprotect = List.of();
        if (spare != null) {
            List<String> spareArgs = new ArrayList<>(backupArgs(spare));
            spareArgs.addAll(dataRootArgs());
            spareDaemon = daemon(spare, "spare", spareArgs);
            awaitListening(spare, BACKUP_PORT, spareDaemon);
            reprotect = List.of("--reprotect-to", spare.address() + ":" + BACKUP_PORT, "--reprotect-epoch", opts.epoch().toMillis() + "ms");
        }
        List<String> args = new ArrayList<>(backupArgs(backup));
        if (opts.takeover()) args.addAll(List.of("--service-address", serviceIp() + (opts.ipv6() ? "/64" : "/24"), "--service-iface", "eth0"));
        args.addAll(reprotect);
        args.addAll(dataRootArgs());
        backupDaemon = daemon(backup, "backup", args);
        awaitListening(backup, BACKUP_PORT, backupDaemon);
    }

    /** {@code checkpointd backup} on host {@code h}: a restored service there listens on that host's address. */
    private List<String> backupArgs(Host h) {
        return List.of("backup", "--listen", h.address() + ":" + BACKUP_PORT,
                "--dir", h.dir().resolve("store").toString(), "--proxy-control", front.address() + ":" + CONTROL_PORT,
                "--service", h.address() + ":" + SERVICE_PORT, "--run-dir", runDir(h).toString(),
                "--heartbeat-timeout", opts.heartbeatTimeout().toMillis() + "ms", "--auth-key", keyFile.toString());
    }

    /** A backup restores a data dir only under a --data-root: the data dir itself, when there is one. */
    private List<String> dataRootArgs() {
        return opts.dataDir() == null ? List.of() : List.of("--data-root", opts.dataDir().toString());
    }

    private void startProxy() throws IOException, InterruptedException {
        proxy = daemon(front, "proxy", List.of("proxy", "--listen", front.address() + ":" + PROXY_PORT, "--upstream",
                primary.address() + ":" + SERVICE_PORT, "--control", front.address() + ":" + CONTROL_PORT,
                "--run-dir", runDir(front).toString(), "--auth-key", keyFile.toString()));
        awaitListening(front, PROXY_PORT, proxy);
    }

    private void startProtect() throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("protect", Integer.toString(service.hostPid()), "--backup",
                backup.address() + ":" + BACKUP_PORT, "--epoch", opts.epoch().toMillis() + "ms", "--service", primary.address() + ":" + SERVICE_PORT,
                "--run-dir", runDir(primary).toString(), "--work-dir", workDir.toString(), "--auth-key", keyFile.toString()));
        if (opts.packetHold()) args.addAll(List.of("--hold", "packets", "--service-address", serviceIp() + (opts.ipv6() ? "/64" : "/24")));
        else args.addAll(List.of("--proxy-control", front.address() + ":" + CONTROL_PORT));
        if (opts.dataDir() != null) args.addAll(List.of("--data-dir", opts.dataDir().toString()));
        protect = daemon(primary, "protect", args);
    }

    private HostProcess daemon(Host h, String role, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava(), "-XX:+UseSerialGC", "-Xmx256m",
                "-cp", opts.classpath(), "io.checkpointd.cli.Main"));
        cmd.addAll(args);
        return h.start(role, "java", cmd, logDir.resolve(role + ".log"));
    }

    /** Waits until something listens on {@code port} of host {@code h} (checked from inside the host). */
    private static void awaitListening(Host h, int port, HostProcess p) throws IOException, InterruptedException {
        Await.until(Duration.ofSeconds(30), Duration.ofMillis(50), () -> p + " does not listen on port " + port, () -> {
            Sh.Result r = Sh.tryRun("ip", "netns", "exec", h.netns(), "ss", "-Hltn", "sport = :" + port);
            if (r.exit() == 0 && !r.output().isBlank()) return Boolean.TRUE;
            if (!p.isAlive()) throw new IOException(p + " exited with status " + p.waitFor(Duration.ofSeconds(1)) + " at start");
            return null;
        });
    }

    /** Waits until the primary reports {@code epoch} (or later) acknowledged. */
    public void awaitAckedEpoch(long epoch, Duration max) throws IOException, InterruptedException {
        StatusFiles.awaitAckedEpoch(() -> status("primary"), epoch, max,
                () -> protect.isAlive() ? null : "protect exited with status " + protect.waitFor(Duration.ofSeconds(1)) + logs(),
                logDir);
    }

    /** The newest status published by the daemon of {@code role} ("primary", "backup", "proxy"). */
    public Optional<Json> status(String role) throws IOException {
        Host h = switch (role) {
            case "primary" -> primary;
            case "backup" -> backup;
            case "proxy" -> front;
            default -> throw new IllegalArgumentException(role);
        };
        return statusOn(h, role);
    }

    /**
     * The newest status published on host {@code h} by a daemon of {@code role}: e.g. the re-protecting "primary"
     * on the backup host, or the "backup" on the spare host.
     */
    public Optional<Json> statusOn(Host h, String role) throws IOException {
        return StatusFiles.newest(runDir(h), role, false);
    }

    /** Waits until the backup reports the failover finished; returns its status. */
    public Json awaitFailover(Duration max) throws IOException, InterruptedException {
        return awaitFailoverOn(backup, max);
    }

    /** Waits until the backup daemon of host {@code h} (the backup, or the spare) reports its failover finished. */
    public Json awaitFailoverOn(Host h, Duration max) throws IOException, InterruptedException {
        return StatusFiles.awaitFailover(() -> statusOn(h, "backup"), max, logDir.resolve("backup.log"));
    }

    /** Host failure of the primary: every process on it SIGKILLed at once. */
    public void killPrimaryHost() throws IOException, InterruptedException {
        primary.kill();
    }

    public Hosts hosts() {
        return hosts;
    }

    public Host primaryHost() {
        return primary;
    }

    public Host backupHost() {
        return backup;
    }

    public Host frontHost() {
        return front;
    }

    /** The spare host (null without {@link Options#withSpare()}). */
    public Host spareHost() {
        return spare;
    }

    public HostProcess service() {
        return service;
    }

    public HostProcess protect() {
        return protect;
    }

    public HostProcess backupDaemon() {
        return backupDaemon;
    }

    public HostProcess proxy() {
        return proxy;
    }

    /** The service's own address ({@link Options#withAddressTakeover()}): .100 (or ::100) of the hosts' subnet. */
    public java.net.InetSocketAddress serviceAddress() {
        return new InetSocketAddress(serviceIp(), SERVICE_PORT);
    }

    public String serviceIp() {
        if (opts.ipv6()) return hosts.prefix6() + "100";
        String a = primary.address();
        return a.substring(0, a.lastIndexOf('.')) + ".100";
    }

    /** Where clients connect: the proxy on the front host. */
    public InetSocketAddress proxyAddress() {
        return new InetSocketAddress(front.address(), PROXY_PORT);
    }

    public InetSocketAddress controlAddress() {
        return new InetSocketAddress(front.address(), CONTROL_PORT);
    }

    public Path logDir() {
        return logDir;
    }

    public Path authKeyFile() {
        return keyFile;
    }

    public static Path runDir(Host h) {
        return h.dir().resolve("run");
    }

    /** The tail of every daemon's log, for a failure message. */
    public String logs() {
        StringBuilder sb = new StringBuilder();
        for (String role : spare == null ? new String[] {"protect", "backup", "proxy"} : new String[] {"protect", "backup", "proxy", "spare"}) {
            Path p = logDir.resolve(role + ".log");
            try {
                List<String> lines = Files.readAllLines(p);
                sb.append("\n--- ").append(role).append(".log (tail) ---\n");
                for (String l : lines.subList(Math.max(0, lines.size() - 30), lines.size())) sb.append(l).append('\n');
            } catch (IOException e) {
                sb.append("\n--- no ").append(p).append('\n');
            }
        }
        return sb.toString();
    }

    /** The packet hold's cgroup leaf, which a killed protect leaves behind (cgroups are not namespaced here). */
    private void removeHoldLeaf() throws IOException {
        Optional<Path> v2 = io.checkpointd.linux.cgroup.Cgroup2Placement.mountPoint();
        if (v2.isEmpty() || serviceCgroup == null) return;
        Files.deleteIfExists(io.checkpointd.linux.cgroup.Cgroup2.directory(v2.get(), serviceCgroup)
                .resolve("checkpointd-held-" + service.hostPid()));
    }

    /** Kills every host (all processes, including a restored service) and deletes the namespaces and the work dir. */
    @Override
    public void close() {
        hosts.close();
        if (service != null) {
            try {
                // a primary host killed mid-epoch leaves its freezer cgroup FROZEN; cgroups are not namespaced here
                StaleFreezer.release(service.hostPid());
                StaleFreezer.remove(service.hostPid(), Duration.ofSeconds(2));
                removeHoldLeaf();
            } catch (IOException e) {
                System.err.println("host cluster: freezer cgroup of " + service + ": " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            io.checkpointd.protocol.image.ImageDirs.deleteTree(workDir);
        } catch (IOException e) {
            System.err.println("host cluster: could not remove " + workDir + ": " + e.getMessage());
        }
    }
}
