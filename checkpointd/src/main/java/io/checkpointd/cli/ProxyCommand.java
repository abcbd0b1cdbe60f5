package io.checkpointd.cli;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.status.Json;
import io.checkpointd.protocol.status.StatusFile;
import io.checkpointd.proxy.BufferProxy;
import io.checkpointd.proxy.ProxyConfig;
import io.checkpointd.proxy.ProxyStats;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code checkpointd proxy}: the output-commit proxy in front of the service. */
@Command(name = "proxy", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Run the output-commit proxy: clients connect here; the service's output of epoch N reaches "
                + "them only after the backup acknowledged N.")
public final class ProxyCommand implements Callable<Integer> {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ProxyCommand.class);

    @Spec
    CommandSpec spec;

    @Option(names = "--listen", required = true, paramLabel = "HOST:PORT", converter = Converters.Listen.class,
            description = "where clients connect")
    InetSocketAddress listen;

    @Option(names = "--upstream", required = true, paramLabel = "HOST:PORT", converter = Converters.Peer.class,
            description = "the protected service")
    InetSocketAddress upstream;

    @Option(names = "--control", required = true, paramLabel = "HOST:PORT", converter = Converters.Listen.class,
            description = "where the primary and backup send seal/release/generation messages")
    InetSocketAddress control;

    @Option(names = "--generation", defaultValue = "1", description = "the initial generation (default: ${DEFAULT-VALUE})")
    long generation;

    @Option(names = "--max-held-per-connection", paramLabel = "SIZE", defaultValue = "8MiB", converter = Converters.ByteSize.class,
            description = "held output per connection before the proxy stops reading from the service (default: ${DEFAULT-VALUE})")
    long perConnection;

    @Option(names = "--max-held", paramLabel = "SIZE", defaultValue = "256MiB", converter = Converters.ByteSize.class,
            description = "held output in total before the proxy stops reading from the service (default: ${DEFAULT-VALUE})")
    long total;

    @Option(names = "--upstream-retry", paramLabel = "DURATION", defaultValue = "10s", converter = Converters.PositiveDuration.class,
            description = "how long a new client waits for the service to accept (e.g. during failover) (default: ${DEFAULT-VALUE})")
    Duration retry;

    @Option(names = "--passthrough", description = "start unprotected: release output at once (until a generation change)")
    boolean passthrough;

    @Mixin
    RunDirOption runDir;

    @Mixin
    AuthOptions auth;

    @Mixin
    MetricsOption metrics;

    @Mixin
    PreAuthOptions preAuth;

    @Override
    public Integer call() throws Exception {
        ChannelKey key = auth.channelKey(io.checkpointd.protocol.auth.Role.PROXY);
        if (generation < 1) throw new UsageException("--generation must be at least 1");
        io.checkpointd.protocol.auth.PreAuthLimits preAuthLimits = preAuth.limits();
        auth.warnIfInsecure();
        Readiness readiness = Readiness.fromEnvironment(spec.commandLine().getErr());
        MetricsOption.Endpoint ep = metrics.start(spec.commandLine().getOut());
        BufferProxy proxy;
        try {
            proxy = BufferProxy.start(ProxyConfig.builder().listen(listen).upstream(upstream).control(control)
                    .initialGeneration(generation).passthroughAtStart(passthrough).perConnectionCap(perConnection)
                    .totalCap(total).upstreamRetryWindow(retry).channelKey(key).preAuth(preAuthLimits).build());
        } catch (IOException e) {
            if (ep != null) ep.close();
            throw new UsageException(e.getMessage());
        }
        if (ep != null) proxy.exposeMetrics(ep.registry());
        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            proxy.close();
            done.countDown();
        }, "proxy-shutdown"));
        spec.commandLine().getOut().printf("checkpointd: proxy listening on %s (control %s), upstream %s (%s)%n",
                proxy.listenAddress(), proxy.controlAddress(), upstream, BuildInfo.current().describe());
        spec.commandLine().getOut().flush();
        readiness.ready("listening on " + proxy.listenAddress() + ", upstream " + upstream, () -> {
            ProxyStats s = proxy.stats();
            return "generation " + s.generation() + ", released epoch " + s.lastReleased() + ", " + s.connections()
                    + " connections" + (s.passthrough() ? ", passthrough" : "") + "; listening on " + proxy.listenAddress();
        });
        StatusFile status = new StatusFile(StatusFile.runDir(runDir.path()), "proxy");
        long statusFailures = 0;
        while (!done.await(200, java.util.concurrent.TimeUnit.MILLISECONDS)) {
            ProxyStats s;
            try {
                s = proxy.stats();
            } catch (RuntimeException e) {
                // the status file is for operators; clients' traffic must not stop with it
                if (statusFailures++ % 300 == 0) log.error("proxy status not published: {}", e.getMessage());
                continue;
            }
            status.publish(Json.object().put("role", "proxy").put("pid", ProcessHandle.current().pid())
                    .put("listen", proxy.listenAddress().toString()).put("generation", s.generation())
                    .put("lastSealedEpoch", s.lastSealed()).put("lastReleasedEpoch", s.lastReleased())
                    .put("passthrough", s.passthrough()).put("connections", s.connections()).put("heldBytes", s.heldBytes())
                    .put("releasedBytes", s.releasedBytes()).put("discardedBytes", s.discardedBytes())
                    .put("rejectedControlMessages", s.rejectedControlMessages()).put("superseded", superseded(s))
                    .put("outputBytes", s.outputBytes()).put("outputBytesAtSeal", s.outputBytesAtSeal())
                    .put("outputHeldSignals", s.outputHeldSignals())
                    .put("addedDelayMs", Json.object().put("p50", s.heldP50Ms()).put("p99", s.heldP99Ms()).put("n", s.heldChunks()))
                    .put("updatedAt", System.currentTimeMillis()));
        }
        readiness.close();
        if (ep != null) ep.close();
        return Main.EXIT_OK;
    }

    /** The generations a newer one replaced, oldest first: their final watermarks (see {@link ProxyStats.Superseded}). */
    private static java.util.List<Json> superseded(ProxyStats s) {
        java.util.List<Json> l = new java.util.ArrayList<>();
        for (ProxyStats.Superseded g : s.superseded()) {
            l.add(Json.object().put("generation", g.generation()).put("lastSealedEpoch", g.lastSealed())
                    .put("lastReleasedEpoch", g.lastReleased()).put("passthrough", g.passthrough()).put("releasedBytes", g.releasedBytes()));
        }
        return l;
    }
}
