package io.checkpointd.demo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class KvLoadTest {

    @Test
    void fixedDurationWithWarmupReportsThroughputAndPercentiles() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0)) {
            LoadGenerator.Report r = LoadGenerator.run(KvWorkload.Config.of(server.address()).withThreads(2),
                    new LoadGenerator.Options(Duration.ofMillis(200), Duration.ofMillis(500), 0, true));
            assertThat(r.ops()).isPositive();
            assertThat(r.elapsed()).isBetween(Duration.ofMillis(450), Duration.ofSeconds(5));
            assertThat(r.opsPerSecond()).isPositive();
            assertThat(r.latency().count()).isEqualTo(r.ops());
            assertThat(r.latency().percentileNanos(50)).isPositive()
                    .isLessThanOrEqualTo(r.latency().percentileNanos(99));
            assertThat(r.latency().percentileNanos(99)).isLessThanOrEqualTo(r.latency().maxNanos());
            assertThat(r.verification().ok()).as(r.verification().summary()).isTrue();
            assertThat(r.summaryLine()).contains("ops/s=").contains("p99_us=").contains("verify=ok");
        }
    }

    @Test
    void fixedOpCount() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0)) {
            LoadGenerator.Report r = LoadGenerator.run(KvWorkload.Config.of(server.address()).withThreads(3),
                    LoadGenerator.Options.forOps(1500));
            assertThat(r.ops()).isEqualTo(1500);
            assertThat(r.latency().count()).isEqualTo(1500);
            assertThat(r.verification()).isNull();
            assertThat(server.store().puts()).isEqualTo(1500);
        }
    }

    @Test
    void mainPrintsOneSummaryLine() throws Exception {
        try (KvServer server = KvServer.start("127.0.0.1", 0)) {
            PrintStream old = System.out;
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            int status;
            try {
                System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
                status = KvLoad.run(new String[] {"--target", "127.0.0.1:" + server.port(), "--threads", "2",
                    "--seconds", "0.3", "--verify"});
            } finally {
                System.setOut(old);
            }
            String out = buf.toString(StandardCharsets.UTF_8);
            assertThat(status).isZero();
            assertThat(out.lines()).hasSize(1);
            assertThat(out).startsWith("target=127.0.0.1:" + server.port() + " threads=2 ops=")
                    .contains(" ops/s=").contains(" p50_us=").contains(" p99_us=").contains(" max_us=")
                    .contains(" verify=ok");
        }
    }

    @Test
    void argumentErrors() {
        assertThat(KvLoad.parseTarget("localhost:8080")).isEqualTo(new InetSocketAddress("localhost", 8080));
        assertThat(KvLoad.parseTarget("[::1]:9").getPort()).isEqualTo(9);
        assertThatThrownBy(() -> KvLoad.parseTarget("nohost")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KvLoad.run(new String[] {"--threads", "2"}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--target");
        assertThatThrownBy(() -> KvLoad.run(new String[] {"--bogus"})).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LoadGenerator.Options(Duration.ZERO, null, 0, false))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
