package io.checkpointd.cli;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.restore.failover.AddressTakeover;
import io.checkpointd.restore.failover.Reprotector;
import java.util.ArrayList;
import java.util.List;
import io.checkpointd.restore.BackupConfig;
import io.checkpointd.restore.failover.ServiceOutput;
import io.checkpointd.restore.BackupDaemon;
import io.checkpointd.restore.receive.AckMode;
import io.checkpointd.restore.store.DataRoots;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code checkpointd backup}: receive and commit epochs; on primary failure, fence it and restore. */
@Command(name = "backup", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Run the backup: receive epochs, commit each atomically, acknowledge; when the primary fails, "
                + "fence it and restore the last committed epoch with CRIU.")
public final class BackupCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", converter = Converters.Listen.class,
            description = "where primaries connect")
    InetSocketAddress listen;

    @Option(names = "--dir", required = true, paramLabel = "DIR", description = "the image store (one protected service per directory)")
    Path dir;

    @Option(names = "--proxy-control", paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "the buffer proxy's control address, told about failovers")
    InetSocketAddress proxyControl;

    @Option(names = "--heartbeat-timeout", paramLabel = "DURATION", defaultValue = "1s", converter = Converters.PositiveDuration.class,
            description = "silence after which the primary is declared failed (default: ${DEFAULT-VALUE})")
    Duration heartbeatTimeout;

    @Option(names = "--service", paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "where the restored service listens (default: as announced by the primary)")
    InetSocketAddress service;

    @Option(names = "--reprotect-to", paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "after a failover, protect the restored service toward this spare backup (full sync, then epochs); "
                    + "without it the restored service runs unprotected")
    InetSocketAddress reprotectTo;

    @Option(names = "--reprotect-epoch", paramLabel = "DURATION", defaultValue = "100ms", converter = Converters.PositiveDuration.class,
            description = "epoch interval of the re-protecting primary (default: ${DEFAULT-VALUE})")
    Duration reprotectEpoch;

    @Option(names = "--data-root", paramLabel = "DIR",
            description = "restore data dirs (protect --data-dir) only at or below this absolute directory; repeatable. "
                    + "Without it, epochs naming a data dir are refused")
    List<Path> dataRoots = new ArrayList<>();

    @Option(names = "--service-output", paramLabel = "FILE|journal",
            description = "where a restored service's stdout/stderr go when they were a pipe or a unix socket (a log pipe, "
                    + "journald) on the primary's host: appended to FILE, or streamed to journald. Default: journal when "
                    + "journald runs on this host, else DIR/service-output.log")
    String serviceOutput;

    @Option(names = "--ack", defaultValue = "durable", paramLabel = "memory|durable",
            description = "acknowledge an epoch (and so release its output) once it is verified in this backup's memory, "
                    + "then made durable in the background (Remus: survives the failure of either host, not both), or "
                    + "once it is durable on disk (group-committed) (default: ${DEFAULT-VALUE})")
    AckMode ack;

    @Option(names = "--service-address", paramLabel = "IP/PREFIX",
            description = "the service's IPv4 or IPv6 address, which moves to this host at failover (with --service-iface): TCP "
                    + "connections on it are restored established and peers see only a stall. Without it, restored "
                    + "connections come back closed")
    String serviceAddress;

    @Option(names = "--service-iface", paramLabel = "IF", description = "the interface --service-address is added to at failover")
    String serviceIface;

    @Mixin
    RunDirOption runDir;

    @Mixin
    AuthOptions auth;

    @Mixin
    ArbiterOptions arbiter;

    @Mixin
    MetricsOption metrics;

    @Mixin
    PreAuthOptions preAuth;

    @Override
    public Integer call() throws Exception {
        ChannelKey key = auth.channelKey(io.checkpointd.protocol.auth.Role.BACKUP);
        io.checkpointd.protocol.auth.PreAuthLimits preAuthLimits = preAuth.limits();
        if (reprotectTo != null && key.tls() != null && !key.tls().roles().contains(io.checkpointd.protocol.auth.Role.PRIMARY)) {
            // the restored service is protected with this backup's certificate, and only a primary may push epochs
            throw new UsageException("--reprotect-to: --tls-cert " + key.tls().subject() + " must also name the primary role "
                    + "(checkpointd certs gives the backup's certificate both)");
        }
        AddressTakeover.Config takeover = null;
        if ((serviceAddress == null) != (serviceIface == null)) throw new UsageException("--service-address and --service-iface go together");
        if (serviceAddress != null) {
            try {
                takeover = AddressTakeover.Config.parse(serviceAddress, serviceIface);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--service-address: " + e.getMessage());
            }
        }
        io.checkpointd.arbiter.ArbiterAddress arbiterAddress = arbiter.address();
        DataRoots roots;
        try {
            roots = DataRoots.of(dataRoots);
        } catch (IllegalArgumentException e) {
            throw new UsageException("--data-root: " + e.getMessage());
        }
        Preconditions.requirePrivileges("checkpointd backup");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UsageException("cannot use --dir " + dir + ": " + e.getMessage());
        }
        if (!Files.isWritable(dir)) throw new UsageException("--dir " + dir + " is not writable");
        auth.warnIfInsecure();
        Readiness readiness = Readiness.fromEnvironment(spec.commandLine().getErr());
        io.checkpointd.arbiter.ZkArbiter zk = null;
        if (arbiterAddress != null) {
            zk = arbiter.start(arbiterAddress);
            // not fatal: replication works without it; only promotion needs it, and it may be back by then
            if (!zk.awaitConnected(Duration.ofSeconds(5))) {
                org.slf4j.LoggerFactory.getLogger(BackupCommand.class).warn("the arbiter {} is unreachable for now: "
                        + "this backup cannot be promoted until it answers", zk.describe());
            }
        }
        MetricsOption.Endpoint ep;
        try {
            ep = metrics.start(spec.commandLine().getOut());
        } catch (UsageException e) {
            if (zk != null) zk.close();
            throw e;
        }
        BackupDaemon d;
        try {
            Reprotector.Config reprotect = null;
            if (reprotectTo != null) {
                List<String> args = new ArrayList<>(auth.asArgs());
                if (runDir.path() != null) args.addAll(List.of("--run-dir", runDir.path().toString()));
                reprotect = new Reprotector.Config(reprotectTo, reprotectEpoch, args, dir.resolve("reprotect.log"));
            }
            // one attempt at the lease waits twice the session timeout: long enough for a dead primary's to end
            d = BackupDaemon.start(new BackupConfig(listen, dir, proxyControl, heartbeatTimeout, service, runDir.path(), null, key,
                    reprotect, zk, arbiter.sessionTimeout.multipliedBy(2), roots, ServiceOutput.parse(serviceOutput, dir), ack, preAuthLimits,
                    takeover));
        } catch (IOException e) {
            if (zk != null) zk.close();
            if (ep != null) ep.close();
            throw new UsageException(e.getMessage());
        }
        if (ep != null) d.exposeMetrics(ep.registry());
        Runtime.getRuntime().addShutdownHook(new Thread(d::close, "backup-shutdown"));
        spec.commandLine().getOut().printf("checkpointd: backup listening on %s, store %s (%s)%n", d.boundAddress(), dir,
                BuildInfo.current().describe());
        spec.commandLine().getOut().flush();
        try (Readiness sd = readiness) {
            sd.ready("listening on " + d.boundAddress() + ", store " + dir, () -> d.state().name().toLowerCase()
                    + ", committed generation " + d.store().committedGeneration() + " epoch " + d.store().committedEpoch()
                    + "; listening on " + d.boundAddress());
            d.awaitClose();
        }
        if (ep != null) ep.close();
        return d.state() == BackupDaemon.State.FAILED ? Main.EXIT_FAILURE : Main.EXIT_OK;
    }
}
