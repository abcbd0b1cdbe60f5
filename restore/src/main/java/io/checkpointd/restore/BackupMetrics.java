package io.checkpointd.restore;

import io.checkpointd.restore.failover.Failover;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/**
 * The backup's Prometheus metrics ({@code checkpointd_backup_*}), read from the figures {@link BackupDaemon} keeps
 * for its status file; the commit histogram is fed by the status window of commit times.
 */
final class BackupMetrics {
    /** Histogram buckets for commits, seconds. */
    private static final double[] BUCKETS = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5};

    private BackupMetrics() {
    }

    static void register(PrometheusRegistry r, BackupDaemon d) {
        Histogram commit = Histogram.builder().name("checkpointd_backup_commit_seconds")
                .help("From an epoch's end frame to its commit in the store").classicOnly().classicUpperBounds(BUCKETS).register(r);
        d.commitMs().tap(ms -> commit.observe(ms / 1e3));
        CounterWithCallback.builder().name("checkpointd_backup_epochs_committed_total").help("Epochs committed to the store")
                .callback(c -> c.call(d.epochsCommitted())).register(r);
        CounterWithCallback.builder().name("checkpointd_backup_failovers_total").help("Failovers that restored the service")
                .callback(c -> c.call(d.failoverResult() == null ? 0 : 1)).register(r);
        GaugeWithCallback.builder().name("checkpointd_backup_committed_epoch").help("The newest committed (durable) epoch, -1 if none")
                .callback(c -> c.call(d.store().durableEpoch())).register(r);
        GaugeWithCallback.builder().name("checkpointd_backup_generation")
                .help("The generation of the committed epochs, or the one this backup took over as")
                .callback(c -> {
                    Failover.Result f = d.failoverResult();
                    c.call(f != null ? f.newGeneration() : d.store().committedGeneration());
                }).register(r);
        GaugeWithCallback.builder().name("checkpointd_backup_replicating").help("1 while a primary replicates to this backup")
                .callback(c -> c.call(d.state() == BackupDaemon.State.REPLICATING ? 1 : 0)).register(r);
        GaugeWithCallback.builder().name("checkpointd_backup_primary_silent_seconds").help("Since the primary was last heard from")
                .callback(c -> c.call(d.primarySilentNanos() / 1e9)).register(r);
    }
}
