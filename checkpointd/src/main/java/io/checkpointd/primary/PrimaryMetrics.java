package io.checkpointd.primary;

import io.checkpointd.primary.ship.BackupLink;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;

/**
 * The primary's Prometheus metrics ({@code checkpointd_primary_*}), read from the figures {@link PrimaryStatus} and
 * {@link BackupLink} keep: counters and gauges are read at scrape time; the pause and ack histograms are fed by the
 * status windows those figures go into.
 */
final class PrimaryMetrics {
    /** Histogram buckets for pauses and acks, seconds: sub-millisecond pauses up to multi-second CRIU dumps. */
    static final double[] BUCKETS = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10};

    private PrimaryMetrics() {
    }

    static void register(PrometheusRegistry r, PrimaryConfig cfg, PrimaryStatus status, BackupLink link,
            java.util.function.Supplier<io.checkpointd.primary.release.packets.PacketHold> hold) {
        Histogram pause = Histogram.builder().name("checkpointd_primary_pause_seconds")
                .help("How long the protected process was stopped per epoch").classicOnly().classicUpperBounds(BUCKETS).register(r);
        status.pauseMs().tap(ms -> pause.observe(ms / 1e3));
        Histogram ack = Histogram.builder().name("checkpointd_primary_ack_seconds")
                .help("From an epoch's last byte sent to the backup's ack").classicOnly().classicUpperBounds(BUCKETS).register(r);
        link.ackMs().tap(ms -> ack.observe(ms / 1e3));
        CounterWithCallback.builder().name("checkpointd_primary_epochs_acked_total").help("Epochs the backup acknowledged")
                .callback(c -> c.call(link.epochsAcked())).register(r);
        CounterWithCallback.builder().name("checkpointd_primary_shipped_raw_bytes_total")
                .help("Epoch records shipped, before compression").callback(c -> c.call(status.totalRawBytes())).register(r);
        CounterWithCallback.builder().name("checkpointd_primary_shipped_wire_bytes_total")
                .help("Epoch records shipped, as sent on the wire").callback(c -> c.call(status.totalWireBytes())).register(r);
        CounterWithCallback.builder().name("checkpointd_primary_criu_dumps_total").help("CRIU dumps taken, by why the epoch needed one")
                .labelNames("reason").callback(c -> {
                    if (status.engineStats().get("criuDumpReasons") instanceof Map<?, ?> m) {
                        m.forEach((why, n) -> c.call(((Number) n).doubleValue(), String.valueOf(why)));
                    }
                }).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_generation").help("This primary's generation")
                .callback(c -> c.call(cfg.generation())).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_in_flight").help("Epochs shipped and not yet acknowledged")
                .callback(c -> c.call(link.inFlight())).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_last_acked_epoch").help("The newest epoch the backup acknowledged, -1 if none")
                .callback(c -> c.call(link.lastAcked())).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_backup_connected").help("1 while connected to the backup")
                .callback(c -> c.call(link.isConnected() ? 1 : 0)).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_unprotected")
                .help("1 while the backup is lost and output is released unprotected (--on-backup-loss continue)")
                .callback(c -> c.call(status.unprotected() ? 1 : 0)).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_held_packets").help("Packets held for their epoch's ack (--hold packets)")
                .callback(c -> c.call(hold.get() == null ? 0 : hold.get().held()[0])).register(r);
        GaugeWithCallback.builder().name("checkpointd_primary_held_bytes").help("Bytes of the packets held (--hold packets)")
                .callback(c -> c.call(hold.get() == null ? 0 : hold.get().held()[1])).register(r);
    }
}
