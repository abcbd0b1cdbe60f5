package io.checkpointd.cli;

import io.checkpointd.arbiter.ArbiterAddress;
import io.checkpointd.arbiter.ZkArbiter;
import io.checkpointd.linux.criu.CriuUnavailableException;
import io.checkpointd.linux.net.Cidr;
import io.checkpointd.linux.track.Trackers;
import io.checkpointd.primary.Primary;
import io.checkpointd.primary.PrimaryConfig;
import io.checkpointd.primary.capture.disk.DataDirs;
import io.checkpointd.primary.ship.ReplicationClient;
import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.restore.arbiter.ArbiterException;
import io.checkpointd.restore.arbiter.Holders;
import io.checkpointd.restore.arbiter.Lease;
import io.checkpointd.restore.arbiter.LeaseHeldException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code checkpointd protect <pid>}: run the primary for one process until it exits, is fenced, or is stopped. */
@Command(name = "protect", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Protect a running JVM: every epoch, checkpoint it and ship the changes to a backup; "
                + "its output is released by the proxy only once the backup has the epoch.")
public final class ProtectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "<pid>", description = "pid of the process to protect (or --unit)")
    Integer pidArgument;

    @Option(names = "--unit", paramLabel = "NAME", description = "protect the main process of this systemd unit "
            + "('systemctl show -p MainPID'), instead of a <pid>")
    String unit;

    /** The process protected: {@code <pid>}, or the unit's main pid. */
    int pid;

    /** {@code --service-address}, parsed; null without it. */
    private Cidr heldAddress;

    @Option(names = "--backup", required = true, paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "the backup's replication address ('checkpointd backup --listen')")
    InetSocketAddress backup;

    @Option(names = "--epoch", paramLabel = "DURATION", defaultValue = "100ms", converter = Converters.PositiveDuration.class,
            description = "epoch interval: the longest an epoch runs, e.g. 25ms, 100ms, 1s (default: ${DEFAULT-VALUE})")
    Duration epoch;

    @Option(names = "--epoch-end", defaultValue = "output", paramLabel = "output|interval",
            description = "output: end an epoch as soon as the proxy holds output of it (no sooner than --epoch-min after "
                    + "the last pause, no later than --epoch), so replies wait for one pause, ship and ack; interval: "
                    + "only every --epoch (default: ${DEFAULT-VALUE})")
    Choices.EpochEnd epochEnd;

    @Option(names = "--epoch-min", paramLabel = "DURATION", defaultValue = "2ms", converter = Converters.PositiveDuration.class,
            description = "with --epoch-end output, the least time the service runs between two pauses (default: ${DEFAULT-VALUE})")
    Duration epochMin;

    @Option(names = "--proxy-control", paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "the buffer proxy's control address; without it output is not held (no output commit)")
    InetSocketAddress proxyControl;

    @Option(names = "--hold", defaultValue = "proxy", paramLabel = "proxy|packets",
            description = "where output waits for its epoch's ack: proxy: the buffer proxy holds client traffic on one "
                    + "port (with --proxy-control); packets: every packet the process sends, any socket, TCP and UDP, waits "
                    + "in a netfilter queue on this host (default: ${DEFAULT-VALUE})")
    Choices.Hold hold;

    @Option(names = "--service-address", paramLabel = "IP/PREFIX",
            description = "with --hold packets: the service's own address (IPv4 or IPv6) on this host (as 'backup --service-address'): "
                    + "every packet from it is held too, also the kernel's for sockets the process no longer has, and it "
                    + "is removed from this host when the process exits, before the backup is told to take over")
    String serviceAddress;

    @Option(names = "--service", paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "where the service accepts clients; the backup waits for it after a restore")
    InetSocketAddress service;

    @Option(names = "--generation", defaultValue = "1",
            description = "this primary's generation (default: ${DEFAULT-VALUE}; with --arbiter it comes from the arbiter)")
    long generation;

    @Option(names = "--heartbeat", paramLabel = "DURATION", defaultValue = "100ms", converter = Converters.PositiveDuration.class,
            description = "heartbeat interval to the backup (default: ${DEFAULT-VALUE})")
    Duration heartbeat;

    @Option(names = "--max-in-flight", defaultValue = "2",
            description = "epochs captured but not yet acknowledged before the next freeze waits (default: ${DEFAULT-VALUE})")
    int maxInFlight;

    @Option(names = "--on-exit", defaultValue = "failover", paramLabel = "failover|stop",
            description = "when the protected process exits: tell the backup to take over at once, or just stop "
                    + "(the backup then takes over on heartbeat timeout) (default: ${DEFAULT-VALUE})")
    Choices.OnExit onExit;

    @Option(names = "--on-backup-loss", defaultValue = "stall", paramLabel = "stall|continue",
            description = "when the backup is lost: hold output until it is back (no client ever sees output a failure could "
                    + "take back), or release it unprotected, with a loud warning, and re-protect when it returns (default: ${DEFAULT-VALUE})")
    Choices.OnBackupLoss onBackupLoss;

    @Option(names = "--backup-timeout", paramLabel = "DURATION", defaultValue = "5s", converter = Converters.PositiveDuration.class,
            description = "no answer from the backup for this long, with epochs in flight, counts as losing it (default: ${DEFAULT-VALUE})")
    Duration backupTimeout;

    @Option(names = "--work-dir", paramLabel = "DIR", description = "scratch space for captures (default: /dev/shm/checkpointd)")
    Path workDir;

    @Mixin
    RunDirOption runDir;

    @Mixin
    AuthOptions auth;

    @Mixin
    ArbiterOptions arbiter;

    @Mixin
    MetricsOption metrics;

    @Option(names = "--any-process", description = "protect a process that is not a JVM")
    boolean anyProcess;

    @Option(names = "--engine", defaultValue = "incremental", paramLabel = "incremental|full",
            description = "incremental: each epoch copies the pages written since the last one and every thread's registers, "
                    + "a CRIU dump only when threads, files or the memory map changed; full: a CRIU dump every epoch (default: ${DEFAULT-VALUE})")
    Choices.Engine engine;

    @Option(names = "--tracker", defaultValue = "auto", paramLabel = "auto|uffd-wp|soft-dirty|scan",
            description = "how the incremental engine finds written pages: userfaultfd write-protect, the kernel's soft-dirty bits, "
                    + "or hashing every page; auto picks the first that works here ('checkpointd check' says which) (default: ${DEFAULT-VALUE})")
    Choices.Tracker tracker;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "a directory whose changes ship with every epoch and are "
            + "restored with the process, at the same path (repeatable)")
    java.util.List<Path> dataDirs = new java.util.ArrayList<>();

    @Option(names = "--allow-unreplicated", description = "protect the process even though it writes files outside its "
            + "data dirs (a restore then fails, or sees those files as they are on the backup)")
    boolean allowUnreplicated;

    @Override
    public Integer call() throws Exception {
        if ((pidArgument == null) == (unit == null)) throw new UsageException("give either a <pid> or --unit NAME");
        pid = pidArgument != null ? pidArgument : ServiceUnit.mainPid(unit);
        if (generation < 1) throw new UsageException("--generation must be at least 1");
        if (epochMin.compareTo(epoch) > 0) throw new UsageException("--epoch-min must not be longer than --epoch");
        if (maxInFlight < 1 || maxInFlight > 64) throw new UsageException("--max-in-flight must be between 1 and 64");
        if (engine == Choices.Engine.FULL && spec.commandLine().getParseResult().hasMatchedOption("--tracker")) {
            throw new UsageException("--tracker is for --engine incremental; the full engine takes a CRIU dump every epoch");
        }
        if (engine == Choices.Engine.INCREMENTAL && tracker != Choices.Tracker.AUTO) {
            String why = Trackers.availability().get(tracker.toString());
            if (!Trackers.isUsable(tracker.toString())) throw new UsageException("--tracker " + tracker + " cannot run here: " + why);
        }
        ChannelKey key = auth.channelKey(io.checkpointd.protocol.auth.Role.PRIMARY);
        ArbiterAddress arbiterAddress = arbiter.address();
        if (arbiterAddress != null && spec.commandLine().getParseResult().hasMatchedOption("--generation")) {
            throw new UsageException("--generation comes from the arbiter's counter when --arbiter is given: drop one of them");
        }
        if (arbiterAddress != null && proxyControl != null && service == null) {
            throw new UsageException("--arbiter with --proxy-control needs --service HOST:PORT: the proxy is told the new generation and where it runs");
        }
        if (hold == Choices.Hold.PACKETS && proxyControl != null) {
            throw new UsageException("--hold packets holds the output itself: drop --proxy-control (or use --hold proxy)");
        }
        if (serviceAddress != null) {
            if (hold != Choices.Hold.PACKETS) throw new UsageException("--service-address needs --hold packets: the packet hold holds the address's packets");
            try {
                heldAddress = Cidr.parse(serviceAddress);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--service-address: " + e.getMessage());
            }
        }
        Preconditions.requireProcess(pid, anyProcess);
        Preconditions.requirePrivileges("checkpointd protect");
        java.util.List<Path> dirs;
        try {
            dirs = DataDirs.resolve(dataDirs);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage() + ": give existing, separate directories to --data-dir");
        }
        if (!allowUnreplicated) Preconditions.requireReplicatedWrites(pid, dirs);
        if (arbiterAddress == null) return protect(key, generation, null);
        ZkArbiter zk = arbiter.start(arbiterAddress);
        try {
            // the lease first: a primary whose service someone else holds must not touch the process at all
            Lease lease;
            long gen;
            try {
                if (!zk.awaitConnected(Duration.ofSeconds(10))) throw new UsageException("the arbiter " + zk.describe() + " is unreachable (no connection within 10 s)");
                lease = zk.acquire(Holders.describe("primary", "protect of pid " + pid), Duration.ZERO);
                gen = lease.nextGeneration(1);
            } catch (LeaseHeldException e) {
                throw new UsageException("service '" + zk.serviceId() + "' is already active elsewhere: " + e.getMessage()
                        + " (a dead holder's lease ends after its session timeout)");
            } catch (ArbiterException e) {
                throw new UsageException("the arbiter cannot give this primary the lease: " + e.getMessage());
            }
            return protect(key, gen, lease);
        } finally {
            zk.close(); // ends the session: the lease goes with it, and the backup may take over
        }
    }

    private int protect(ChannelKey key, long generation, Lease lease) throws Exception {
        MetricsOption.Endpoint ep = metrics.start(spec.commandLine().getOut());
        try {
            return protect(key, generation, lease, ep);
        } finally {
            if (ep != null) ep.close();
        }
    }

    private int protect(ChannelKey key, long generation, Lease lease, MetricsOption.Endpoint ep) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrimaryConfig cfg = new PrimaryConfig(pid, backup, epoch, proxyControl,
                service == null ? "" : service.getHostString() + ":" + service.getPort(), workDir, generation, heartbeat,
                maxInFlight, onExit == Choices.OnExit.FAILOVER, runDir.path(), key, onBackupLoss == Choices.OnBackupLoss.CONTINUE,
                backupTimeout, engine == Choices.Engine.INCREMENTAL, tracker.toString(), epochMin,
                epochEnd == Choices.EpochEnd.OUTPUT);
        auth.warnIfInsecure();
        Primary primary;
        try {
            primary = new Primary(cfg, out);
        } catch (CriuUnavailableException e) {
            throw new UsageException(e.getMessage());
        }
        if (lease != null) primary.holdLease(lease);
        if (hold == Choices.Hold.PACKETS) {
            try {
                primary.holdPackets(heldAddress);
            } catch (IOException e) {
                primary.close();
                throw new UsageException("cannot hold the packets of pid " + pid + ": " + e.getMessage());
            }
        }
        if (ep != null) primary.exposeMetrics(ep.registry());
        if (!dataDirs.isEmpty()) {
            try {
                // the spill goes in the primary's own work dir: removed with it, or by the next protect if this one is killed
                primary.protectDataDirs(DataDirs.watch(pid, dataDirs, cfg.workDir().resolve("primary-" + pid + "-gen" + generation), out));
            } catch (IOException | IllegalArgumentException e) {
                primary.close();
                throw new UsageException("cannot watch the data dirs: " + e.getMessage());
            }
        }
        try {
            primary.connect();
        } catch (ReplicationClient.FencedException e) {
            primary.close();
            out.println("checkpointd: " + e.getMessage());
            out.flush();
            return Primary.EXIT_FENCED;
        } catch (IOException e) {
            primary.close();
            throw new UsageException(e.getMessage() + (e.getMessage().contains("unreachable")
                    ? " (is 'checkpointd backup' listening there?)" : ""));
        }
        // on SIGTERM: finish the epoch, thaw, leave the freezer cgroup; the JVM must not exit before that, or a
        // process frozen mid-epoch would stay frozen for good
        java.util.concurrent.CountDownLatch released = new java.util.concurrent.CountDownLatch(1);
        Thread hook = new Thread(() -> {
            primary.stop();
            try {
                released.await(15, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "protect-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        // SIGTERM is the documented way to stop protecting (exit 0): taken from the JVM's default handler, which
        // would start the shutdown itself and exit 143 (128 + SIGTERM) whatever run() returns; other signals still
        // reach the hook above
        sun.misc.Signal.handle(new sun.misc.Signal("TERM"), s -> primary.stop());
        out.printf("checkpointd: protecting pid %d (generation %d%s, epoch %d ms) with backup %s (%s)%n", pid, generation,
                lease == null ? "" : " from " + arbiter.arbiter + ", lease held", epoch.toMillis(), backup,
                BuildInfo.current().describe());
        out.flush();
        try {
            return primary.run();
        } finally {
            primary.close();
            // before the shutdown hook lets the JVM go: a lease given back now spares the backup the session timeout
            if (lease != null) lease.release();
            released.countDown();
        }
    }
}
