package io.checkpointd.restore;

import io.checkpointd.protocol.auth.ChannelKey;
import io.checkpointd.protocol.auth.PreAuthLimits;
import io.checkpointd.restore.arbiter.Arbiter;
import io.checkpointd.restore.failover.AddressTakeover;
import io.checkpointd.restore.failover.Reprotector;
import io.checkpointd.restore.receive.AckMode;
import io.checkpointd.restore.store.DataRoots;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import io.checkpointd.restore.failover.ServiceOutput;
import java.util.Objects;

/**
 * Configuration of the backup daemon.
 *
 * @param listen            where primaries connect
 * @param dir               the image store directory (one protected service per directory)
 * @param proxyControl      the buffer proxy's control address, or null when no proxy is used
 * @param heartbeatTimeout  silence from the primary after which it is declared failed (default 1 s)
 * @param serviceAddress    where the restored service listens; null means: as the primary announced
 * @param runDir            where the status file goes
 * @param readyTimeout      how long failover waits for the restored service to accept connections
 * @param reprotect         after a failover, protect the restored service toward this spare (null: run unprotected)
 * @param channelKey        authenticates the replication port and the control connection to the proxy; required
 * @param arbiter           null: decide from heartbeats alone (the default); else fail over only while holding its
 *                          lease, with a generation from its counter. The daemon closes it.
 * @param arbiterWait       how long one attempt to take the lease waits for the primary's session to end
 * @param dataRoots         where data dirs may be restored ({@code --data-root}); null or empty: none, every data
 *                          dir is refused
 * @param serviceOutput     where a restored service's stdout/stderr go when they were a pipe or socket on the old
 *                          host; null: the journal when journald runs here, else {@code service-output.log} in {@code dir}
 * @param ackMode           when an epoch is acknowledged: in memory (Remus) or durable (the default: see
 *                          {@link AckMode}); null: durable
 * @param preAuth           bounds on the replication port's connections not yet authenticated; null: the defaults
 * @param takeover          the service address this backup takes over at failover, so TCP connections survive
 *                          ({@code --service-address}); null: restored connections come back closed
 */
public record BackupConfig(InetSocketAddress listen, Path dir, InetSocketAddress proxyControl, Duration heartbeatTimeout,
                           InetSocketAddress serviceAddress, Path runDir, Duration readyTimeout, ChannelKey channelKey,
                           Reprotector.Config reprotect, Arbiter arbiter, Duration arbiterWait,
                           DataRoots dataRoots, ServiceOutput serviceOutput, AckMode ackMode, PreAuthLimits preAuth,
                           AddressTakeover.Config takeover) {
    public static final Duration DEFAULT_HEARTBEAT_TIMEOUT = Duration.ofSeconds(1);
    public static final Duration DEFAULT_READY_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_ARBITER_WAIT = Duration.ofSeconds(10);

    /** Heartbeat-only, no re-protection: after a failover the restored service runs unprotected. */
    public BackupConfig(InetSocketAddress listen, Path dir, InetSocketAddress proxyControl, Duration heartbeatTimeout,
                        InetSocketAddress serviceAddress, Path runDir, Duration readyTimeout, ChannelKey channelKey) {
        this(listen, dir, proxyControl, heartbeatTimeout, serviceAddress, runDir, readyTimeout, channelKey, null, null, null, null, null, null, null, null);
    }

    /** Without an address takeover. */
    public BackupConfig(InetSocketAddress listen, Path dir, InetSocketAddress proxyControl, Duration heartbeatTimeout,
                        InetSocketAddress serviceAddress, Path runDir, Duration readyTimeout, ChannelKey channelKey,
                        Reprotector.Config reprotect, Arbiter arbiter, Duration arbiterWait,
                        DataRoots dataRoots, ServiceOutput serviceOutput, AckMode ackMode, PreAuthLimits preAuth) {
        this(listen, dir, proxyControl, heartbeatTimeout, serviceAddress, runDir, readyTimeout, channelKey, reprotect, arbiter, arbiterWait,
                dataRoots, serviceOutput, ackMode, preAuth, null);
    }

    public BackupConfig {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(dir, "dir");
        Objects.requireNonNull(channelKey, "channelKey");
        heartbeatTimeout = heartbeatTimeout == null ? DEFAULT_HEARTBEAT_TIMEOUT : heartbeatTimeout;
        readyTimeout = readyTimeout == null ? DEFAULT_READY_TIMEOUT : readyTimeout;
        arbiterWait = arbiterWait == null ? DEFAULT_ARBITER_WAIT : arbiterWait;
        dataRoots = dataRoots == null ? DataRoots.NONE : dataRoots;
        serviceOutput = serviceOutput == null ? ServiceOutput.defaultFor(dir) : serviceOutput;
        ackMode = ackMode == null ? AckMode.DURABLE : ackMode;
        preAuth = preAuth == null ? PreAuthLimits.DEFAULT : preAuth;
    }
}
