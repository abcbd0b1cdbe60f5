package io.checkpointd.demo;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.image.ImageDirs;
import io.checkpointd.protocol.status.Json;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A protected demo service on one machine, every role a real process: the KV service (in its own session, stdio
 * at /dev/null, as CRIU needs), {@code checkpointd backup}, {@code checkpointd proxy} and
 * {@code checkpointd protect}. Used by the demo and the end-to-end tests. Every process it starts is tracked by
 * pid, killed by pid and reaped; {@link #close()} also ends the restored service. The daemons authenticate their
 * channels with a fresh key in a mode-600 file in the cluster's directory ({@link #authKeyFile()}).
 */
public final class Cluster implements AutoCloseable {
    /**
     * How to run the cluster.
     *
     * @param spare       a second backup the first re-protects the restored service toward
     * @param protectArgs extra options for {@code protect} (e.g. {@code --on-backup-loss continue})
     * @param arbiter     null: heartbeats decide (the default); else protect and backup run with this arbiter
     * @param daemonArgs  extra options for the backup and proxy daemons, by role ("backup", "proxy")
     * @param service     how the service JVM starts ({@link ServiceLaunch}): wrapper, JVM options, stdout, main class
     * @param tls         TLS with a certificate per role ({@link ClusterSetup#writeCertificates}) instead of the shared key
     */
    public record Options(Duration epoch, Duration heartbeatTimeout, Path baseDir, String classpath, List<String> backupJvmArgs,
                          boolean spare, List<String> protectArgs, Arbiter arbiter, List<String> protectJvmArgs,
                          List<String> serviceArgs, java.util.Map<String, List<String>> daemonArgs, ServiceLaunch service, boolean tls) {
        public static Options of(Path baseDir) {
            return new Options(Duration.ofMillis(100), Duration.ofSeconds(1), baseDir, System.getProperty("java.class.path"), List.of(),
                    false, List.of(), null, List.of(), List.of(), java.util.Map.of(), ServiceLaunch.DEFAULT, false);
        }

        public Options withEpoch(Duration e) {
            return new Options(e, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs, service, tls);
        }

        public Options withHeartbeatTimeout(Duration t) {
            return new Options(epoch, t, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs, service, tls);
        }

        public Options withBackupJvmArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, args, spare, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs, service, tls);
        }

        public Options withSpare() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, true, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs, service, tls);
        }

        public Options withProtectArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, List.copyOf(args), arbiter, protectJvmArgs, serviceArgs, daemonArgs, service, tls);
        }

        /** JVM options of the protect daemon (e.g. a fault point's system property). */
        public Options withProtectJvmArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, List.copyOf(args), serviceArgs, daemonArgs, service, tls);
        }

        /** Extra arguments of the demo service (e.g. {@code --churn}). */
        public Options withServiceArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs, List.copyOf(args), daemonArgs, service, tls);
        }

        /** Extra options for the daemon of {@code role}: "backup" or "proxy" (e.g. {@code --metrics HOST:PORT}). */
        public Options withDaemonArgs(String role, List<String> args) {
            java.util.Map<String, List<String>> m = new java.util.HashMap<>(daemonArgs);
            m.put(role, List.copyOf(args));
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs,
                    serviceArgs, java.util.Map.copyOf(m), service, tls);
        }

        /** How the service JVM starts: its JVM options and where its stdout/stderr go. */
        public Options withService(ServiceLaunch launch) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs,
                    serviceArgs, daemonArgs, launch, tls);
        }

        /**
         * Another service in place of the demo's: a main class on the classpath that takes the demo service's
         * {@code --host H --port P --port-file F} (writing its port to F once it listens), e.g. a database server.
         */
        public Options withServiceMain(String mainClass) {
            return withService(service.withMainClass(mainClass));
        }

        /** The service's main class. */
        public String serviceMain() {
            return service.mainClass();
        }

        /** Authenticates every channel with TLS, a certificate per role from a CA made for this cluster. */
        public Options withTls() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs,
                    serviceArgs, daemonArgs, service, true);
        }

        /** Runs protect and backup with {@code --arbiter uri --service-id id --arbiter-session-timeout t}. */
        public Options withArbiter(String uri, String serviceId, Duration sessionTimeout) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs,
                    new Arbiter(uri, serviceId, sessionTimeout), protectJvmArgs, serviceArgs, daemonArgs, service, tls);
        }
    }

    /**
     * How the service starts: {@code wrapper} runs before {@code java} and must exec it (e.g. {@code setpriv
     * --reuid=65534 ...} for a service with its own user); its JVM options; its stdout/stderr: {@code stdoutLog} null
     * means /dev/null, else a pipe this JVM drains into that file, as a service piping its log to a logger would have.
     */
    public record ServiceLaunch(List<String> wrapper, List<String> jvmArgs, Path stdoutLog, String mainClass) {
        public static final ServiceLaunch DEFAULT = new ServiceLaunch(List.of(), KvServerProcess.RECOMMENDED_JVM_ARGS, null);

        public ServiceLaunch {
            wrapper = List.copyOf(wrapper);
            jvmArgs = List.copyOf(jvmArgs);
            java.util.Objects.requireNonNull(mainClass, "mainClass");
        }

        /** The demo's {@link KvServer}. */
        public ServiceLaunch(List<String> wrapper, List<String> jvmArgs, Path stdoutLog) {
            this(wrapper, jvmArgs, stdoutLog, KvServer.class.getName());
        }

        /** The same with another main class. */
        public ServiceLaunch withMainClass(String main) {
            return new ServiceLaunch(wrapper, jvmArgs, stdoutLog, main);
        }
    }

    /** The arbiter options given to protect and backup. */
    public record Arbiter(String uri, String serviceId, Duration sessionTimeout) {
        List<String> args() {
            return List.of("--arbiter", uri, "--service-id", serviceId, "--arbiter-session-timeout", sessionTimeout.toMillis() + "ms");
        }
    }

    private final Options opts;
    private final ClusterLayout layout;
    private final ClusterLauncher launcher;
    private KvServerProcess service;
    private Process backup;
    private Process proxy;
    private Process protect;
    private int servicePort;

    private Cluster(Options opts) throws IOException {
        this.opts = opts;
        this.layout = ClusterLayout.create(opts);
        this.launcher = new ClusterLauncher(layout);
    }

    /** Starts the service, backup, proxy and protect, and waits until the first epoch is acknowledged. */
    public static Cluster start(Options opts) throws IOException, InterruptedException {
        return start(opts, Duration.ofSeconds(60));
    }

    /** As {@link #start(Options)}, waiting up to {@code firstAck} (a large service's first epoch ships gigabytes). */
    public static Cluster start(Options opts, Duration firstAck) throws IOException, InterruptedException {
        Cluster c = new Cluster(opts);
        try {
            c.service = c.launcher.service();
            c.servicePort = c.service.port();
            c.backup = c.launcher.backup();
            c.proxy = c.launcher.proxy(c.servicePort);
            c.protect = c.launcher.protect(c.service.pid(), c.servicePort);
            c.awaitAckedEpoch(1, firstAck);
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Waits until the primary reports {@code epoch} (or later) acknowledged. */
    public void awaitAckedEpoch(long epoch, Duration max) throws IOException, InterruptedException {
        StatusFiles.awaitAckedEpoch(() -> status("primary"), epoch, max,
                () -> protect.isAlive() ? null
                        : "protect exited with status " + protect.exitValue() + "; see " + layout.logDir().resolve("protect.log"),
                layout.logDir());
    }

    /**
     * The latest status published by the daemon of {@code role} ("primary", "backup", "proxy"): a live daemon's
     * file wins over the file a killed one left behind; among equals, the most recently updated.
     */
    public Optional<Json> status(String role) throws IOException {
        return StatusFiles.newest(layout.runDir(), role, true);
    }

    /** The spare backup's status (see {@link Options#spare()}). */
    public Optional<Json> spareStatus() throws IOException {
        return StatusFiles.newest(layout.spareRunDir(), "backup", true);
    }

    /** Waits until a live daemon of {@code role} has published its status. */
    public Json awaitLiveStatus(String role, Duration max) throws IOException, InterruptedException {
        return Await.until(max, Duration.ofMillis(20), () -> "no live " + role + " status within " + max,
                () -> status(role).filter(StatusFiles::isLive).orElse(null));
    }

    /** SIGKILLs the primary: the protected service and its checkpointd daemon, and reaps both. */
    public void killPrimary() throws InterruptedException, IOException {
        service.process().destroyForcibly();
        protect.destroyForcibly();
        // bounded: a service frozen mid-epoch dies only once the backup's failover thaws it (and ends the dead
        // primary's CRIU, which may still trace it)
        if (!service.process().waitFor(60, TimeUnit.SECONDS)) {
            throw new IOException("the killed service " + service.pid() + " did not exit within 60 s; see " + layout.logDir());
        }
        protect.waitFor();
    }

    /**
     * Waits until a fault point inside the primary killed the protected service and its daemon (see the primary's
     * {@code checkpointd.fault.killAt}), and reaps both.
     *
     * @throws IOException if they are not both gone within {@code max}
     */
    public void awaitPrimaryDeath(Duration max) throws InterruptedException, IOException {
        Await.until(max, Duration.ofMillis(2), () -> "the primary's fault point did not kill service " + service.pid()
                + " and protect within " + max + "; see " + layout.logDir(),
                () -> service.process().isAlive() || protect.isAlive() ? null : Boolean.TRUE);
        service.process().waitFor();
        protect.waitFor();
    }

    /** SIGKILLs only the protected service (its checkpointd daemon stays) and reaps it. */
    public void killService() throws InterruptedException {
        service.process().destroyForcibly();
        service.process().waitFor();
    }

    /** SIGKILLs the backup daemon and reaps it. */
    public void killBackup() throws InterruptedException {
        backup.destroyForcibly();
        backup.waitFor();
    }

    /** The backup daemon's pid (e.g. to put it in a cgroup, as its systemd unit would). */
    public long backupPid() {
        return backup.pid();
    }

    /** Starts the backup again on the same store and port (after {@link #killBackup()}). */
    public void restartBackup() throws IOException, InterruptedException {
        launcher.forget(backup);
        backup = launcher.backup();
    }

    /** Waits until the backup reports the failover finished; returns its status. */
    public Json awaitFailover(Duration max) throws IOException, InterruptedException {
        return StatusFiles.awaitFailover(() -> status("backup"), max, layout.logDir().resolve("backup.log"));
    }

    /** Waits until the spare backup reports its failover finished (the second failover). */
    public Json awaitSpareFailover(Duration max) throws IOException, InterruptedException {
        return StatusFiles.awaitFailover(this::spareStatus, max, layout.logDir().resolve("spare.log"));
    }

    /**
     * SIGKILLs the re-protected primary: the restored service (it kept the original pid) and the protect daemon the
     * backup started for it. Both are the backup daemon's children; it reaps them.
     */
    public void killRestoredPrimary() throws IOException, InterruptedException {
        Json f = StatusFiles.failover(status("backup")).orElseThrow();
        long newPrimary = (Long) f.get("newPrimaryPid");
        long restored = (Long) f.get("restoredPid");
        ProcessHandle.of(restored).ifPresent(ProcessHandle::destroyForcibly);
        ProcessHandle.of(newPrimary).ifPresent(ProcessHandle::destroyForcibly);
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((Files.exists(Path.of("/proc/" + restored)) || Files.exists(Path.of("/proc/" + newPrimary))) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }

    /** The restored service's pid, once failed over. */
    public Optional<Integer> restoredPid() throws IOException {
        return StatusFiles.failover(status("backup")).map(f -> ((Long) f.get("restoredPid")).intValue());
    }

    public InetSocketAddress proxyAddress() {
        return new InetSocketAddress("127.0.0.1", layout.proxyPort());
    }

    public InetSocketAddress serviceAddress() {
        return new InetSocketAddress("127.0.0.1", servicePort);
    }

    public long servicePid() {
        return service.pid();
    }

    /** The proxy daemon's pid. */
    public long proxyPid() {
        return proxy.pid();
    }

    public Process protectProcess() {
        return protect;
    }

    public Path logDir() {
        return layout.logDir();
    }

    public Path storeDir() {
        return layout.storeDir();
    }

    public int controlPort() {
        return layout.controlPort();
    }

    public int backupPort() {
        return layout.backupPort();
    }

    public Path runDir() {
        return layout.runDir();
    }

    /** The key file every daemon of this cluster authenticates with. */
    public Path authKeyFile() {
        return layout.keyFile();
    }

    /** The cluster's credentials as the primary holds them, for a test that talks to its daemons. */
    public ChannelKey channelKey() throws IOException {
        if (!opts.tls()) return ChannelKey.load(layout.keyFile());
        return ChannelKey.tls(io.checkpointd.protocol.auth.TlsIdentity.load(layout.tlsFile("primary.crt"),
                layout.tlsFile("primary.key"), layout.tlsFile("ca.crt")));
    }

    /** Ends every process this cluster started (and the restored service), by pid, and reaps them. */
    @Override
    public void close() {
        try {
            // the re-protecting primary is the backup's child, not ours: end it by pid before what it protects
            ClusterTeardown.endReprotectingPrimary(backup == null ? Optional.empty() : StatusFiles.failover(status("backup")));
        } catch (IOException | InterruptedException e) {
            // best effort: continue ending the rest
        }
        try {
            ClusterTeardown.endRestoredService(backup != null ? restoredPid() : Optional.empty());
        } catch (IOException | InterruptedException e) {
            // best effort: continue ending the rest
        }
        if (service != null) {
            service.close();
            killIfOurs(); // a restored service keeps the original pid
        }
        ClusterTeardown.endDaemons(launcher.daemons());
        // again, with every daemon gone: the backup may have seen the service die above and restored it (same pid)
        // before it was ended itself; that restored service, reparented to init, was left running (seen once)
        if (service != null) killIfOurs();
        ClusterTeardown.removeCaptures(service == null ? null : service.pid(), layout.workDir());
    }

    private void killIfOurs() {
        ClusterTeardown.killIfOurs((int) service.pid(), layout.servicePortFile());
    }

    /** Deletes the cluster's directory (stores, logs). */
    public void deleteFiles() throws IOException {
        ImageDirs.deleteTree(opts.baseDir());
    }
}
