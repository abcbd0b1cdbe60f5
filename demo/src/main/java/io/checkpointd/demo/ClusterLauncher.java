package io.checkpointd.demo;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Starts the processes of a {@link Cluster} with the command lines its layout calls for, and keeps the daemons. */
final class ClusterLauncher {
    private static final String LOOPBACK = "127.0.0.1";

    private final ClusterLayout l;
    private final Cluster.Options opts;
    private final List<Process> daemons = new ArrayList<>();
    private Process spare;

    ClusterLauncher(ClusterLayout layout) {
        this.l = layout;
        this.opts = layout.opts();
    }

    /** Every daemon started and not {@link #forget forgotten}, in start order. */
    List<Process> daemons() {
        return daemons;
    }

    /** No longer ends {@code p} at close (it was killed and reaped already). */
    void forget(Process p) {
        daemons.remove(p);
    }

    /** Starts the KV service and waits for its port file. */
    KvServerProcess service() throws IOException {
        Files.deleteIfExists(l.servicePortFile());
        List<String> cmd = new ArrayList<>();
        // its own session: CRIU dumps a tree whose session leader is inside it without --shell-job; from a child
        // of this JVM (not a group leader) setsid execs in place, so the pid we get is the JVM's
        cmd.add("setsid");
        cmd.addAll(opts.service().wrapper());
        for (String arg : KvServerProcess.command(KvServerProcess.currentJava(), opts.service().jvmArgs(),
                opts.classpath(), LOOPBACK, 0, l.servicePortFile())) {
            cmd.add(arg.equals(KvServer.class.getName()) ? opts.serviceMain() : arg);
        }
        cmd.addAll(opts.serviceArgs());
        return KvServerProcess.start(cmd, LOOPBACK, l.servicePortFile(), Duration.ofSeconds(30), opts.service().stdoutLog());
    }

    /** Starts the backup (and first the spare it re-protects toward, if asked for and not running) once listening. */
    Process backup() throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(backupArgs(l.backupPort(), l.storeDir().toString(), l.runDir().toString()));
        if (opts.spare()) {
            if (spare == null) {
                spare = daemon("spare", List.of(), backupArgs(l.sparePort(),
                        opts.baseDir().resolve("spare-store").toString(), l.spareRunDir().toString()));
                awaitListening(l.sparePort(), spare, "spare");
            }
            args.addAll(List.of("--reprotect-to", LOOPBACK + ":" + l.sparePort(), "--reprotect-epoch", opts.epoch().toMillis() + "ms"));
        }
        if (opts.arbiter() != null) args.addAll(opts.arbiter().args());
        args.addAll(opts.daemonArgs().getOrDefault("backup", List.of()));
        Process backup = daemon("backup", opts.backupJvmArgs(), args);
        awaitListening(l.backupPort(), backup, "backup");
        return backup;
    }

    private List<String> backupArgs(int port, String storeDir, String runDir) {
        List<String> a = new ArrayList<>(List.of("backup", "--listen", LOOPBACK + ":" + port, "--dir", storeDir,
                "--proxy-control", LOOPBACK + ":" + l.controlPort(), "--run-dir", runDir,
                "--heartbeat-timeout", opts.heartbeatTimeout().toMillis() + "ms"));
        a.addAll(l.authArgs("backup"));
        return a;
    }

    /** Starts the proxy in front of the service and waits until it listens. */
    Process proxy(int servicePort) throws IOException, InterruptedException {
        List<String> args = new ArrayList<>(List.of("proxy", "--listen", LOOPBACK + ":" + l.proxyPort(), "--upstream",
                LOOPBACK + ":" + servicePort, "--control", LOOPBACK + ":" + l.controlPort(), "--run-dir", l.runDir().toString()));
        args.addAll(l.authArgs("proxy"));
        args.addAll(opts.daemonArgs().getOrDefault("proxy", List.of()));
        Process proxy = daemon("proxy", List.of(), args);
        awaitListening(l.proxyPort(), proxy, "proxy");
        return proxy;
    }

    /** Starts {@code checkpointd protect} on the service. */
    Process protect(long servicePid, int servicePort) throws IOException {
        List<String> args = new ArrayList<>(List.of("protect", Long.toString(servicePid), "--backup", LOOPBACK + ":" + l.backupPort(),
                "--epoch", opts.epoch().toMillis() + "ms", "--proxy-control", LOOPBACK + ":" + l.controlPort(),
                "--service", LOOPBACK + ":" + servicePort, "--run-dir", l.runDir().toString(), "--work-dir", l.workDir().toString()));
        args.addAll(l.authArgs("primary"));
        args.addAll(opts.protectArgs());
        if (opts.arbiter() != null) args.addAll(opts.arbiter().args());
        return daemon("protect", opts.protectJvmArgs(), args);
    }

    private Process daemon(String role, List<String> jvmArgs, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(KvServerProcess.currentJava(), "-XX:+UseSerialGC", "-Xmx256m"));
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", opts.classpath(), "io.checkpointd.cli.Main"));
        cmd.addAll(args);
        File log = l.logDir().resolve(role + ".log").toFile();
        Process p = new ProcessBuilder(cmd).redirectInput(new File("/dev/null"))
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log)).redirectErrorStream(true).start();
        daemons.add(p);
        return p;
    }

    private static void awaitListening(int port, Process p, String role) throws IOException, InterruptedException {
        Await.until(Duration.ofSeconds(30), Duration.ofMillis(20), () -> role + " does not listen on port " + port, () -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(LOOPBACK, port), 200);
                return Boolean.TRUE;
            } catch (IOException e) {
                if (!p.isAlive()) throw new IOException(role + " exited with status " + p.exitValue() + " at start");
                return null;
            }
        });
    }
}
