package io.checkpointd.cli;

import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import picocli.CommandLine.Option;

/** {@code --metrics HOST:PORT}: serve the daemon's Prometheus metrics over HTTP (a picocli mixin; off by default). */
final class MetricsOption {
    @Option(names = "--metrics", paramLabel = "HOST:PORT", converter = Converters.Listen.class,
            description = "serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free port; default: off)")
    InetSocketAddress address;

    /**
     * Binds the metrics endpoint, before the daemon starts so a bad address stops it early; the daemon then
     * registers its metrics in {@link Endpoint#registry()}. @return null without {@code --metrics}
     */
    Endpoint start(PrintWriter out) {
        if (address == null) return null;
        PrometheusRegistry registry = new PrometheusRegistry();
        HTTPServer server;
        try {
            server = HTTPServer.builder().inetAddress(address.getAddress()).port(address.getPort()).registry(registry).buildAndStart();
        } catch (IOException | RuntimeException e) {
            throw new UsageException("cannot serve --metrics on " + address.getAddress().getHostAddress() + ":" + address.getPort()
                    + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        }
        out.printf("checkpointd: metrics at http://%s:%d/metrics%n", address.getAddress().getHostAddress(), server.getPort());
        out.flush();
        return new Endpoint(registry, server);
    }

    /** A running metrics endpoint; closing it stops the HTTP server. */
    record Endpoint(PrometheusRegistry registry, HTTPServer server) implements AutoCloseable {
        @Override
        public void close() {
            server.close();
        }
    }
}
