package io.checkpointd.demo;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.status.Json;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

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
     */
    public record Options(Duration epoch, Duration heartbeatTimeout, Path baseDir, String classpath, List<String> backupJvmArgs,
                          boolean spare, List<String> protectArgs, Arbiter arbiter, List<String> protectJvmArgs,
                          List<String> serviceArgs, java.util.Map<String, List<String>> daemonArgs) {
        public static Options of(Path baseDir) {
            return new Options(Duration.ofMillis(100), Duration.ofSeconds(1), baseDir, System.getProperty("java.class.path"), List.of(),
                    false, List.of(), null, List.of(), List.of(), java.util.Map.of());
        }

        public Options withEpoch(Duration e) {
            return new Options(e, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs);
        }

        public Options withHeartbeatTimeout(Duration t) {
            return new Options(epoch, t, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs);
        }

        public Options withBackupJvmArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, args, spare, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs);
        }

        public Options withSpare() {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, true, protectArgs, arbiter, protectJvmArgs, serviceArgs, daemonArgs);
        }

        public Options withProtectArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, List.copyOf(args), arbiter, protectJvmArgs, serviceArgs, daemonArgs);
        }

        /** JVM options of the protect daemon (e.g. a fault point's system property). */
        public Options withProtectJvmArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, List.copyOf(args), serviceArgs, daemonArgs);
        }

        /** Extra arguments of the demo service (e.g. {@code --churn}). */
        public Options withServiceArgs(List<String> args) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs, List.copyOf(args), daemonArgs);
        }

        /** Extra options for the daemon of {@code role}: "backup" or "proxy" (e.g. {@code --metrics HOST:PORT}). */
        public Options withDaemonArgs(String role, List<String> args) {
            java.util.Map<String, List<String>> m = new java.util.HashMap<>(daemonArgs);
            m.put(role, List.copyOf(args));
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs, arbiter, protectJvmArgs,
                    serviceArgs, java.util.Map.copyOf(m));
        }

        /** Runs protect and backup with {@code --arbiter uri --service-id id --arbiter-session-timeout t}. */
        public Options withArbiter(String uri, String serviceId, Duration sessionTimeout) {
            return new Options(epoch, heartbeatTimeout, baseDir, classpath, backupJvmArgs, spare, protectArgs,
                    new Arbiter(uri, serviceId, sessionTimeout), protectJvmArgs, serviceArgs, daemonArgs);
        }
    }

    /** The arbiter options given to protect and backup. */
    public record Arbiter(String uri, String serviceId, Duration sessionTimeout) {
        List<String> args() {
            return List.of("--arbiter", uri, "--service-id", serviceId, "--arbiter-session-timeout", sessionTimeout.toMillis() + "ms");
        }
    }

    private final Options opts;
    private final Path runDir;
    private final Path logDir;
    private final Path storeDir;
    /** The primary's captures: tmpfs, one per cluster, removed at close (a killed primary cannot clean it up). */
    private final Path workDir;
    private final Path keyFile;
    private final int controlPort;
    private final int backupPort;
    private final int proxyPort;
    private final int sparePort;
    /** The spare backup publishes into a run dir of its own, so "backup" status stays unambiguous. */
    private final Path spareRunDir;
    private Process spare;
    private final List<Process> daemons = new ArrayList<>();
    private KvServerProcess service;
    private Process backup;
    private Process proxy;
    private Process protect;
    private int servicePort;

    private Cluster(Options opts) throws IOException {
        this.opts = opts;
        this.runDir = opts.baseDir().resolve("run");
        this.logDir = opts.baseDir().resolve("logs");
        this.storeDir = opts.baseDir().resolve("store");
        Path shm = Path.of("/dev/shm");
        this.workDir = (Files.isDirectory(shm) ? shm : opts.baseDir()).resolve("checkpointd-cluster-" + java.util.UUID.randomUUID());
        Files.createDirectories(runDir);
        Files.createDirectories(logDir);
        this.keyFile = writeKeyFile(opts.baseDir().resolve("auth.key"));
        int[] ports = freePorts(4);
        sparePort = ports[3];
        spareRunDir = opts.baseDir().resolve("run-spare");
        Files.createDirectories(spareRunDir);
        controlPort = ports[0];
        backupPort = ports[1];
        proxyPort = ports[2];
    }

    /** Starts the service, backup, proxy and protect, and waits until the first epoch is acknowledged. */
    public static Cluster start(Options opts) throws IOException, InterruptedException {
        Cluster c = new Cluster(opts);
        try {
            c.startService();
            c.startBackup();
            c.startProxy();
            c.startProtect();
            c.awaitAckedEpoch(1, Duration.ofSeconds(60));
            return c;
        } catch (IOException | InterruptedException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private void startService() throws IOException {
        Path portFile = opts.baseDir().resolve("service.port");
        Files.deleteIfExists(portFile);
        List<String> cmd = new ArrayList<>();
        // its own session: CRIU dumps a tree whose session leader is inside it without --shell-job; from a child
        // of this JVM (not a group leader) setsid execs in place, so the pid we get is the JVM's
        cmd.add("setsid");
        cmd.addAll(KvServerProcess.command(java(), KvServerProcess.RECOMMENDED_JVM_ARGS, opts.classpath(), "127.0.0.1", 0, portFile));
        cmd.addAll(opts.serviceArgs());
        service = KvServerProcess.start(cmd, "127.0.0.1", portFile, Duration.ofSeconds(30));
        servicePort = service.port();
    }

    private void startBackup() throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("backup", "--listen", "127.0.0.1:" + backupPort, "--dir", storeDir.toString(),
                "--proxy-control", "127.0.0.1:" + controlPort, "--run-dir", runDir.toString(),
                "--heartbeat-timeout", opts.heartbeatTimeout().toMillis() + "ms", "--auth-key", keyFile.toString()));
        if (opts.spare()) {
            if (spare == null) {
                spare = daemon("spare", List.of(), List.of("backup", "--listen", "127.0.0.1:" + sparePort, "--dir",
                        opts.baseDir().resolve("spare-store").toString(), "--proxy-control", "127.0.0.1:" + controlPort,
                        "--run-dir", spareRunDir.toString(), "--heartbeat-timeout", opts.heartbeatTimeout().toMillis() + "ms",
                        "--auth-key", keyFile.toString()));
                awaitListening(sparePort, spare, "spare");
            }
            args.addAll(List.of("--reprotect-to", "127.0.0.1:" + sparePort, "--reprotect-epoch", opts.epoch().toMillis() + "ms"));
        }
        if (opts.arbiter() != null) args.addAll(opts.arbiter().args());
        args.addAll(opts.daemonArgs().getOrDefault("backup", List.of()));
        backup = daemon("backup", opts.backupJvmArgs(), args);
        awaitListening(backupPort, backup, "backup");
    }

    private void startProxy() throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("proxy", "--listen", "127.0.0.1:" + proxyPort, "--upstream",
                "127.0.0.1:" + servicePort, "--control", "127.0.0.1:" + controlPort, "--run-dir", runDir.toString(),
                "--auth-key", keyFile.toString()));
        args.addAll(opts.daemonArgs().getOrDefault("proxy", List.of()));
        proxy = daemon("proxy", List.of(), args);
        awaitListening(proxyPort, proxy, "proxy");
    }

    private void startProtect() throws IOException {
        List<String> args = new ArrayList<>(List.of("protect", Long.toString(service.pid()), "--backup", "127.0.0.1:" + backupPort,
                "--epoch", opts.epoch().toMillis() + "ms", "--proxy-control", "127.0.0.1:" + controlPort,
                "--service", "127.0.0.1:" + servicePort, "--run-dir", runDir.toString(), "--work-dir", workDir.toString(),
                "--auth-key", keyFile.toString()));
        args.addAll(opts.protectArgs());
        if (opts.arbiter() != null) args.addAll(opts.arbiter().args());
        protect = daemon("protect", opts.protectJvmArgs(), args);
    }

    private Process daemon(String role, List<String> jvmArgs, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-XX:+UseSerialGC", "-Xmx256m"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", opts.classpath(), "io.checkpointd.cli.Main"));
        cmd.addAll(args);
        File log = logDir.resolve(role + ".log").toFile();
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log)).redirectErrorStream(true).start();
        daemons.add(p);
        return p;
    }

    private static void awaitListening(int port, Process p, String role) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            try (java.net.Socket s = new java.net.Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException e) {
                if (!p.isAlive()) throw new IOException(role + " exited with status " + p.exitValue() + " at start");
                if (System.nanoTime() - deadline > 0) throw new IOException(role + " does not listen on port " + port);
                Thread.sleep(20);
            }
        }
    }

    /** Waits until the primary reports {@code epoch} (or later) acknowledged. */
    public void awaitAckedEpoch(long epoch, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            Optional<Json> s = status("primary");
            if (s.isPresent() && s.get().get("lastAckedEpoch") instanceof Long l && l >= epoch) return;
            if (!protect.isAlive()) throw new IOException("protect exited with status " + protect.exitValue() + "; see " + logDir.resolve("protect.log"));
            if (System.nanoTime() - deadline > 0) throw new IOException("no acknowledged epoch " + epoch + " within " + max + "; see " + logDir);
            Thread.sleep(20);
        }
    }

    /**
     * The latest status published by the daemon of {@code role} ("primary", "backup", "proxy"): a live daemon's
     * file wins over the file a killed one left behind; among equals, the most recently updated.
     */
    public Optional<Json> status(String role) throws IOException {
        return statusIn(runDir, role);
    }

    /** The spare backup's status (see {@link Options#spare()}). */
    public Optional<Json> spareStatus() throws IOException {
        return statusIn(spareRunDir, "backup");
    }

    private static Optional<Json> statusIn(Path runDir, String role) throws IOException {
        Json best = null;
        boolean bestAlive = false;
        long bestUpdated = Long.MIN_VALUE;
        try (Stream<Path> s = Files.list(runDir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (!n.startsWith(role + "-") || !n.endsWith(".json")) continue;
                Json j;
                try {
                    j = (Json) Json.parse(Files.readString(p, StandardCharsets.UTF_8));
                } catch (IOException | RuntimeException e) {
                    continue; // being replaced
                }
                boolean alive = j.get("pid") instanceof Long pid && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                long updated = j.get("updatedAt") instanceof Long u ? u : 0;
                if (best == null || (alive && !bestAlive) || (alive == bestAlive && updated > bestUpdated)) {
                    best = j;
                    bestAlive = alive;
                    bestUpdated = updated;
                }
            }
        }
        return Optional.ofNullable(best);
    }

    /** Waits until a live daemon of {@code role} has published its status. */
    public Json awaitLiveStatus(String role, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            Optional<Json> s = status(role);
            if (s.isPresent() && s.get().get("pid") instanceof Long pid && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                return s.get();
            }
            if (System.nanoTime() - deadline > 0) throw new IOException("no live " + role + " status within " + max);
            Thread.sleep(20);
        }
    }

    /** SIGKILLs the primary: the protected service and its checkpointd daemon, and reaps both. */
    public void killPrimary() throws InterruptedException, IOException {
        service.process().destroyForcibly();
        protect.destroyForcibly();
        // bounded: a service frozen mid-epoch dies only once the backup's failover thaws it (and ends the dead
        // primary's CRIU, which may still trace it)
        if (!service.process().waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
            throw new IOException("the killed service " + service.pid() + " did not exit within 60 s; see " + logDir);
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
        long deadline = System.nanoTime() + max.toNanos();
        while (service.process().isAlive() || protect.isAlive()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("the primary's fault point did not kill service " + service.pid() + " and protect within "
                        + max + "; see " + logDir);
            }
            Thread.sleep(2);
        }
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

    /** Starts the backup again on the same store and port (after {@link #killBackup()}). */
    public void restartBackup() throws IOException, InterruptedException {
        daemons.remove(backup);
        startBackup();
    }

    /** Waits until the backup reports the failover finished; returns its status. */
    public Json awaitFailover(Duration max) throws IOException, InterruptedException {
        return awaitFailoverIn(runDir, "backup.log", max);
    }

    /** Waits until the spare backup reports its failover finished (the second failover). */
    public Json awaitSpareFailover(Duration max) throws IOException, InterruptedException {
        return awaitFailoverIn(spareRunDir, "spare.log", max);
    }

    private Json awaitFailoverIn(Path dir, String log, Duration max) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + max.toNanos();
        while (true) {
            Optional<Json> s = statusIn(dir, "backup");
            if (s.isPresent()) {
                Object state = s.get().get("state");
                if ("restored".equals(state)) return s.get();
                if ("failed".equals(state)) throw new IOException("failover failed: " + s.get().get("error") + "; see " + logDir.resolve(log));
            }
            if (System.nanoTime() - deadline > 0) throw new IOException("no failover within " + max + "; see " + logDir.resolve(log));
            Thread.sleep(20);
        }
    }

    /**
     * SIGKILLs the re-protected primary: the restored service (it kept the original pid) and the protect daemon the
     * backup started for it. Both are the backup daemon's children; it reaps them.
     */
    public void killRestoredPrimary() throws IOException, InterruptedException {
        Json f = (Json) status("backup").orElseThrow().get("failover");
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
        return status("backup").map(s -> s.get("failover")).filter(f -> f instanceof Json)
                .map(f -> ((Long) ((Json) f).get("restoredPid")).intValue());
    }

    public InetSocketAddress proxyAddress() {
        return new InetSocketAddress("127.0.0.1", proxyPort);
    }

    public InetSocketAddress serviceAddress() {
        return new InetSocketAddress("127.0.0.1", servicePort);
    }

    public long servicePid() {
        return service.pid();
    }

    public Process protectProcess() {
        return protect;
    }

    public Path logDir() {
        return logDir;
    }

    public Path storeDir() {
        return storeDir;
    }

    public int controlPort() {
        return controlPort;
    }

    public int backupPort() {
        return backupPort;
    }

    public Path runDir() {
        return runDir;
    }

    /** The key file every daemon of this cluster authenticates with. */
    public Path authKeyFile() {
        return keyFile;
    }

    /** The cluster's key, for a test that talks to its daemons. */
    public ChannelKey channelKey() throws IOException {
        return ChannelKey.load(keyFile);
    }

    /** 32 random bytes in a file only its owner may read: created with those permissions, never readable by others. */
    static Path writeKeyFile(Path file) throws IOException {
        byte[] key = new byte[ChannelKey.MIN_BYTES];
        new SecureRandom().nextBytes(key);
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(file, key);
        return file;
    }

    /** Ends every process this cluster started (and the restored service), by pid, and reaps them. */
    @Override
    public void close() {
        try {
            // the re-protecting primary is the backup's child, not ours: end it by pid before what it protects
            Optional<Json> f = backup == null ? Optional.empty() : status("backup").map(s -> s.get("failover")).filter(x -> x instanceof Json).map(x -> (Json) x);
            if (f.isPresent() && f.get().get("newPrimaryPid") instanceof Long np) {
                ProcessHandle.of(np).ifPresent(ProcessHandle::destroyForcibly);
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (ProcessHandle.of(np).map(ProcessHandle::isAlive).orElse(false) && System.nanoTime() < deadline) Thread.sleep(20);
            }
        } catch (IOException | InterruptedException e) {
            // best effort: continue ending the rest
        }
        try {
            Optional<Integer> restored = backup != null ? restoredPid() : Optional.empty();
            if (restored.isPresent()) {
                int pid = restored.get();
                ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                // the backup daemon is its parent (a child subreaper) and reaps it; wait until the pid is free
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (Files.exists(Path.of("/proc/" + pid)) && System.nanoTime() < deadline) Thread.sleep(20);
            }
        } catch (IOException | InterruptedException e) {
            // best effort: continue ending the rest
        }
        if (service != null) {
            service.close();
            killIfOurs((int) service.pid()); // a restored service keeps the original pid
        }
        for (Process p : daemons) p.destroy();
        for (Process p : daemons) {
            try {
                if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        // again, with every daemon gone: the backup may have seen the service die above and restored it (same pid)
        // before it was ended itself; that restored service, reparented to init, was left running (seen once)
        if (service != null) killIfOurs((int) service.pid());
        try {
            // a re-protecting primary (started by the backup) captures into the default work root
            Path shared = io.checkpointd.protocol.image.ImageDirs.DEFAULT_CAPTURE_ROOT;
            if (service != null && Files.isDirectory(shared)) {
                try (Stream<Path> s = Files.list(shared)) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        if (p.getFileName().toString().startsWith("primary-" + service.pid() + "-gen")) {
                            io.checkpointd.protocol.image.ImageDirs.deleteTree(p);
                        }
                    }
                }
            }
            io.checkpointd.protocol.image.ImageDirs.deleteTree(workDir);
        } catch (IOException e) {
            // a leftover in tmpfs is reported by nothing else: say so
            System.err.println("cluster: could not remove " + workDir + ": " + e.getMessage());
        }
    }

    /** Kills {@code pid} if it is this cluster's service (its command line names our port file), and waits. */
    private void killIfOurs(int pid) {
        Path cmdline = Path.of("/proc/" + pid + "/cmdline");
        try {
            String cmd = new String(Files.readAllBytes(cmdline), StandardCharsets.UTF_8);
            if (!cmd.contains(opts.baseDir().resolve("service.port").toString())) return;
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (Files.exists(cmdline) && Files.readAllBytes(cmdline).length > 0 && System.nanoTime() < deadline) Thread.sleep(20);
        } catch (IOException e) {
            // gone
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Deletes the cluster's directory (stores, logs). */
    public void deleteFiles() throws IOException {
        io.checkpointd.protocol.image.ImageDirs.deleteTree(opts.baseDir());
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    static int[] freePorts(int n) throws IOException {
        int[] ports = new int[n];
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
                held.add(s);
                ports[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) s.close();
        }
        return ports;
    }
}
