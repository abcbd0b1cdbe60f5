package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvWorkload;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code --metrics}: during a protected run under load, each daemon's {@code /metrics} serves its figures in the
 * Prometheus text format, and between two scrapes a second apart the counters and histograms move.
 */
class MetricsTest extends E2eTest {
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @Test
    @Timeout(120)
    void everyDaemonsMetricsMoveDuringAProtectedRun() throws Exception {
        int[] ports = freePorts(3);
        String primaryAt = "127.0.0.1:" + ports[0], backupAt = "127.0.0.1:" + ports[1], proxyAt = "127.0.0.1:" + ports[2];
        Cluster.Options opts = Cluster.Options.of(tmp.resolve("cluster")).withEpoch(Duration.ofMillis(50))
                .withProtectArgs(List.of("--metrics", primaryAt))
                .withDaemonArgs("backup", List.of("--metrics", backupAt))
                .withDaemonArgs("proxy", List.of("--metrics", proxyAt));
        try (Cluster c = Cluster.start(opts);
             KvWorkload load = new KvWorkload(KvWorkload.Config.of(c.proxyAddress()).withThreads(2).withDuration(Duration.ofSeconds(20)))) {
            load.start();
            Thread.sleep(1000);
            Map<String, Double> p1 = scrape(primaryAt), b1 = scrape(backupAt), x1 = scrape(proxyAt);
            Thread.sleep(1000);
            Map<String, Double> p2 = scrape(primaryAt), b2 = scrape(backupAt), x2 = scrape(proxyAt);

            for (String m : List.of("checkpointd_primary_epochs_acked_total", "checkpointd_primary_shipped_raw_bytes_total",
                    "checkpointd_primary_shipped_wire_bytes_total", "checkpointd_primary_pause_seconds_count",
                    "checkpointd_primary_pause_seconds_sum", "checkpointd_primary_ack_seconds_count")) {
                assertThat(p2.get(m)).as(m).isNotNull().isGreaterThan(value(p1, m));
            }
            assertThat(p2.get("checkpointd_primary_generation")).isEqualTo(1.0);
            assertThat(p2).containsKey("checkpointd_primary_in_flight");
            assertThat(p2.get("checkpointd_primary_backup_connected")).isEqualTo(1.0);
            // the first epoch is a CRIU dump, whatever the engine: at least one reason has a count
            assertThat(sum(p2, "checkpointd_primary_criu_dumps_total{")).as("CRIU dumps by reason").isGreaterThanOrEqualTo(1);
            assertThat(p2.get("checkpointd_primary_pause_seconds_bucket{le=\"+Inf\"}"))
                    .isEqualTo(p2.get("checkpointd_primary_pause_seconds_count"));

            for (String m : List.of("checkpointd_backup_epochs_committed_total", "checkpointd_backup_commit_seconds_count",
                    "checkpointd_backup_committed_epoch")) {
                assertThat(b2.get(m)).as(m).isNotNull().isGreaterThan(value(b1, m));
            }
            assertThat(b2.get("checkpointd_backup_generation")).isEqualTo(1.0);
            assertThat(b2.get("checkpointd_backup_failovers_total")).isEqualTo(0.0);
            assertThat(b2.get("checkpointd_backup_replicating")).isEqualTo(1.0);

            assertThat(x2.get("checkpointd_proxy_released_bytes_total")).as("released bytes")
                    .isNotNull().isGreaterThan(value(x1, "checkpointd_proxy_released_bytes_total"));
            assertThat(x2.get("checkpointd_proxy_held_bytes")).as("held bytes").isNotNull().isGreaterThanOrEqualTo(0);
            assertThat(x2.get("checkpointd_proxy_generation")).isEqualTo(1.0);
            load.stop();
            assertThat(load.awaitTermination(Duration.ofSeconds(30))).isTrue();

            // the dashboard and the alert rules use only metrics the daemons serve
            java.util.Set<String> served = new java.util.HashSet<>();
            for (Map<String, Double> m : List.of(p2, b2, x2)) m.keySet().forEach(k -> served.add(k.replaceAll("\\{.*", "")));
            java.nio.file.Path docs = java.nio.file.Path.of(System.getProperty("checkpointd.home", "."), "docs");
            for (String doc : List.of("grafana/checkpointd-dashboard.json", "alerts.yml")) {
                java.util.regex.Matcher used = java.util.regex.Pattern.compile("checkpointd_(primary|backup|proxy)_[a-z_]+")
                        .matcher(java.nio.file.Files.readString(docs.resolve(doc)));
                while (used.find()) assertThat(served).as("docs/" + doc + " uses " + used.group()).contains(used.group());
            }
        }
    }

    private static double value(Map<String, Double> m, String name) {
        assertThat(m).as("first scrape has " + name).containsKey(name);
        return m.get(name);
    }

    private static double sum(Map<String, Double> m, String prefix) {
        return m.entrySet().stream().filter(e -> e.getKey().startsWith(prefix)).mapToDouble(Map.Entry::getValue).sum();
    }

    /** GET /metrics, text format: series (name with its labels, as written) to value; comments skipped. */
    private Map<String, Double> scrape(String hostPort) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://" + hostPort + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as("GET http://" + hostPort + "/metrics").isEqualTo(200);
        Map<String, Double> series = new HashMap<>();
        for (String line : r.body().split("\n")) {
            if (line.isBlank() || line.startsWith("#")) continue;
            int sp = line.lastIndexOf(' ');
            series.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1)));
        }
        return series;
    }

    /** Loopback ports free now (held together, so they differ). */
    private static int[] freePorts(int n) throws Exception {
        List<ServerSocket> held = new ArrayList<>();
        int[] ports = new int[n];
        try {
            for (int i = 0; i < n; i++) {
                ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
                held.add(s);
                ports[i] = s.getLocalPort();
            }
        } finally {
            for (ServerSocket s : held) s.close();
        }
        return ports;
    }
}
