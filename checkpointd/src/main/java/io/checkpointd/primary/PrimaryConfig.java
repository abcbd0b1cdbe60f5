package io.checkpointd.primary;

import io.checkpointd.protocol.auth.ChannelKey;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Configuration of {@code checkpointd protect}.
 *
 * @param pid               the protected process
 * @param backup            the backup's replication address
 * @param epoch             the epoch interval (checkpoint period)
 * @param proxyControl      the buffer proxy's control address, or null (then output is not held: no output commit)
 * @param serviceAddress    "host:port" where the service accepts clients (told to the backup for failover), or ""
 * @param workDir           scratch space for captured images; tmpfs keeps captures off the disk
 * @param generation        this primary's generation (fencing token)
 * @param heartbeatInterval how often the backup hears from us between epochs
 * @param maxInFlight       epochs captured but not yet acknowledged before the next freeze waits (K)
 * @param failoverOnExit    when the protected process exits, tell the backup to take over at once
 * @param continueOnBackupLoss when the backup is lost, release output unprotected (loudly) until it is back, instead
 *                          of stalling it (the default: clients never see output that a failure could take back)
 * @param backupTimeout     silence of the backup (no ACK/NACK with epochs in flight) that counts as losing it
 * @param runDir            where the status file goes (null: default)
 * @param channelKey        authenticates the replication and control connections; required
 * @param incremental       the incremental engine (dirty pages + registers each epoch, a CRIU dump only when the
 *                          process's structure changed) rather than a full CRIU dump every epoch
 * @param tracker           the incremental engine's dirty-page tracker: auto, uffd-wp, soft-dirty or scan
 * @param epochMin          with {@code epochOnOutput}, the least time the service runs between two pauses
 * @param epochOnOutput     end an epoch as soon as the proxy holds output of it (after {@code epochMin});
 *                          {@code epoch} is then the longest an epoch runs. Otherwise epochs end every {@code epoch}
 */
public record PrimaryConfig(int pid, InetSocketAddress backup, Duration epoch, InetSocketAddress proxyControl,
                            String serviceAddress, Path workDir, long generation, Duration heartbeatInterval,
                            int maxInFlight, boolean failoverOnExit, Path runDir, ChannelKey channelKey,
                            boolean continueOnBackupLoss, Duration backupTimeout, boolean incremental,
                            String tracker, Duration epochMin, boolean epochOnOutput) {
    public static final Path DEFAULT_WORK_DIR = io.checkpointd.protocol.image.ImageDirs.DEFAULT_CAPTURE_ROOT;
    public static final Duration DEFAULT_HEARTBEAT = Duration.ofMillis(100);
    /** No ACK or NACK for this long while epochs are in flight: the backup is treated as lost. */
    public static final Duration DEFAULT_BACKUP_TIMEOUT = Duration.ofSeconds(5);
    /** K: two epochs in flight lets epoch N+1 be captured while N is being committed, and no more. */
    public static final int DEFAULT_MAX_IN_FLIGHT = 2;
    /** The floor of output-ended epochs: the service runs at least this long between pauses. */
    public static final Duration DEFAULT_EPOCH_MIN = Duration.ofMillis(2);

    public PrimaryConfig {
        Objects.requireNonNull(backup, "backup");
        Objects.requireNonNull(epoch, "epoch");
        Objects.requireNonNull(channelKey, "channelKey");
        serviceAddress = serviceAddress == null ? "" : serviceAddress;
        workDir = workDir == null ? DEFAULT_WORK_DIR : workDir;
        heartbeatInterval = heartbeatInterval == null ? DEFAULT_HEARTBEAT : heartbeatInterval;
        backupTimeout = backupTimeout == null ? DEFAULT_BACKUP_TIMEOUT : backupTimeout;
        tracker = tracker == null ? "auto" : tracker;
        epochMin = epochMin == null ? DEFAULT_EPOCH_MIN : epochMin;
        if (maxInFlight < 1) throw new IllegalArgumentException("maxInFlight must be at least 1");
        if (generation < 1) throw new IllegalArgumentException("generation must be at least 1");
    }
}
