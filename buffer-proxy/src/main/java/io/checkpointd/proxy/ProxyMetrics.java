package io.checkpointd.proxy;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.function.ToDoubleFunction;

/**
 * The proxy's Prometheus metrics ({@code checkpointd_proxy_*}), read from {@link BufferProxy#stats()} at scrape time:
 * one snapshot serves every metric of a scrape, so they agree with each other.
 */
final class ProxyMetrics {
    /** A snapshot younger than this is reused (the metrics of one scrape are read back to back). */
    private static final long REUSE_NANOS = 100_000_000L;

    private final BufferProxy proxy;
    private ProxyStats last;
    private long lastAt;

    private ProxyMetrics(BufferProxy proxy) {
        this.proxy = proxy;
    }

    static void register(PrometheusRegistry r, BufferProxy proxy) {
        ProxyMetrics m = new ProxyMetrics(proxy);
        m.gauge(r, "checkpointd_proxy_held_bytes", "Service output held now, waiting for its epoch's ack", ProxyStats::heldBytes);
        m.counter(r, "checkpointd_proxy_released_bytes_total", "Service output released to clients", ProxyStats::releasedBytes);
        m.counter(r, "checkpointd_proxy_discarded_bytes_total", "Held output dropped (generation change, client gone)",
                ProxyStats::discardedBytes);
        m.counter(r, "checkpointd_proxy_rejected_control_messages_total", "Control requests refused (stale generation and such)",
                ProxyStats::rejectedControlMessages);
        m.gauge(r, "checkpointd_proxy_generation", "The generation whose output the proxy relays", ProxyStats::generation);
        m.gauge(r, "checkpointd_proxy_last_released_epoch", "The newest epoch released in this generation, -1 if none",
                ProxyStats::lastReleased);
        m.gauge(r, "checkpointd_proxy_connections", "Client connections of this generation", ProxyStats::connections);
        m.gauge(r, "checkpointd_proxy_added_delay_p50_ms", "Median time a reply's bytes were held (read from the service to "
                + "written to the client), over the last 4096 held chunks", ProxyStats::heldP50Ms);
        m.gauge(r, "checkpointd_proxy_added_delay_p99_ms", "99th percentile of the time a reply's bytes were held, over the "
                + "last 4096 held chunks", ProxyStats::heldP99Ms);
        m.counter(r, "checkpointd_proxy_output_held_signals_total", "OUTPUT_HELD frames sent: epochs the primary was asked "
                + "to end early because they hold output", ProxyStats::outputHeldSignals);
        m.gauge(r, "checkpointd_proxy_passthrough", "1 while output is released unheld", s -> s.passthrough() ? 1 : 0);
    }

    private void gauge(PrometheusRegistry r, String name, String help, ToDoubleFunction<ProxyStats> f) {
        GaugeWithCallback.builder().name(name).help(help).callback(c -> {
            ProxyStats s = stats();
            if (s != null) c.call(f.applyAsDouble(s));
        }).register(r);
    }

    private void counter(PrometheusRegistry r, String name, String help, ToDoubleFunction<ProxyStats> f) {
        CounterWithCallback.builder().name(name).help(help).callback(c -> {
            ProxyStats s = stats();
            if (s != null) c.call(f.applyAsDouble(s));
        }).register(r);
    }

    /** A recent snapshot, or null once the proxy is closed (its metrics then have no sample). */
    private synchronized ProxyStats stats() {
        long now = System.nanoTime();
        if (last == null || now - lastAt > REUSE_NANOS) {
            try {
                last = proxy.stats();
            } catch (IllegalStateException e) {
                return null;
            }
            lastAt = now;
        }
        return last;
    }
}
