package io.checkpointd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.checkpointd.demo.Cluster;
import io.checkpointd.demo.KvClient;
import io.checkpointd.protocol.status.Json;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Epochs that end on output, end to end: with an epoch interval of ten minutes, one synchronous client's requests
 * through the proxy are answered anyway, because each reply the proxy holds makes it tell the primary (OUTPUT_HELD),
 * which ends the epoch then. Shown by the daemons' counters, not by timing: every round trip took an epoch ended on
 * output, none ended on the interval after the first, and the proxy sent one signal per such epoch.
 */
class OutputEndsEpochTest extends E2eTest {
    private static final int ROUND_TRIPS = 30;

    @Test
    @Timeout(120)
    void heldOutputEndsTheEpochLongBeforeItsInterval() throws Exception {
        Cluster.Options opts = Cluster.Options.of(tmp.resolve("cluster")).withEpoch(Duration.ofMinutes(10));
        try (Cluster c = Cluster.start(opts)) {
            Json before = epochEnds(c);
            try (KvClient client = KvClient.connect(c.proxyAddress(), Duration.ofSeconds(2), Duration.ofSeconds(20))) {
                for (int i = 0; i < ROUND_TRIPS; i++) {
                    assertThat(client.put("k" + i, Integer.toString(i))).isTrue();
                    assertThat(client.get("k" + i)).contains(Integer.toString(i));
                }
            }
            Json after = awaitEpochEnds(c, n(before, "endedOnOutput") + 2L * ROUND_TRIPS);
            long onOutput = n(after, "endedOnOutput") - n(before, "endedOnOutput");
            Json proxy = awaitProxyStatus(c, onOutput, 2L * ROUND_TRIPS); // the proxy publishes its status every 200 ms
            String ctx = "before " + before + ", after " + after + ", proxy " + proxy + E2eSupport.logs(c);
            assertThat(onOutput).as("each synchronous round trip needs an epoch of its own, ended by its reply; " + ctx)
                    .isGreaterThanOrEqualTo(2L * ROUND_TRIPS);
            assertThat(n(after, "endedOnInterval")).as("only the first epoch (the full sync) started on the timer; " + ctx)
                    .isLessThanOrEqualTo(1);
            assertThat(((Number) proxy.get("outputHeldSignals")).longValue()).as("the proxy signalled each such epoch; " + ctx)
                    .isGreaterThanOrEqualTo(onOutput);
            Json held = (Json) proxy.get("addedDelayMs");
            assertThat(((Number) held.get("n")).longValue()).as(ctx).isGreaterThanOrEqualTo(2L * ROUND_TRIPS);
        }
    }

    /**
     * The proxy's status once it counts {@code signals} OUTPUT_HELD frames and {@code held} held chunks: a client can
     * read its last reply before the proxy has timed that chunk, so a status taken at once may lack it.
     */
    private static Json awaitProxyStatus(Cluster c, long signals, long held) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        Json p = c.status("proxy").orElseThrow();
        while ((((Number) p.get("outputHeldSignals")).longValue() < signals
                || ((Number) ((Json) p.get("addedDelayMs")).get("n")).longValue() < held) && System.nanoTime() - deadline < 0) {
            Thread.sleep(50);
            p = c.status("proxy").orElseThrow();
        }
        return p;
    }

    /**
     * The primary's epoch counts once {@code onOutput} epochs ended on output, or after 5 s: it publishes its status
     * at most every 50 ms while epochs run, so a reply can arrive before its epoch is in the status.
     */
    private static Json awaitEpochEnds(Cluster c, long onOutput) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        Json e = epochEnds(c);
        while (n(e, "endedOnOutput") < onOutput && System.nanoTime() - deadline < 0) {
            Thread.sleep(20);
            e = epochEnds(c);
        }
        return e;
    }

    private static Json epochEnds(Cluster c) throws Exception {
        return (Json) c.status("primary").orElseThrow().get("epochEnds");
    }

    private static long n(Json j, String key) {
        return ((Number) j.get(key)).longValue();
    }
}
